/// The HDF5 1.8+ index structures that files written with `libver="latest"` use: dense link storage (a fractal
/// heap of link messages with a version 2 B-tree name index), and the extensible-array and version 2 B-tree chunk
/// indexes. Every address, count and size read from the file is checked before use; corrupt or truncated
/// structures throw `ConvertError`.
extension HDF5File {
    /// `floor(log2(v))` for v ≥ 1.
    static func log2(_ v: Int) -> Int { v <= 1 ? 0 : Int.bitWidth - 1 - v.leadingZeroBitCount }
    /// Bytes needed to encode values up to `v` (libhdf5's `H5VM_limit_enc_size`).
    static func encSize(_ v: Int) -> Int { log2(max(v, 1)) / 8 + 1 }

    // MARK: Version 2 B-trees

    /// File offsets of every record of the version 2 B-tree at `address`, in key order, with its record type and size.
    func btree2Records(_ address: Int) throws -> (type: Int, recordSize: Int, records: [Int]) {
        let a = try fileOffset(address)
        guard try r.u32(a) == 0x4448_5442 else { throw ConvertError("HDF5: bad B-tree v2 header signature (corrupt file)") }  // "BTHD"
        let type = Int(try r.u8(a + 5))
        let nodeSize = Int(try r.u32(a + 6))
        let recordSize = Int(try r.u16(a + 10))
        let depth = Int(try r.u16(a + 12))
        let root = try r.uN(a + 16, so)
        let rootRecords = Int(try r.u16(a + 16 + so))
        let total = try r.int(a + 18 + so, sl)
        let prefix = 10  // signature, version, type, checksum
        guard recordSize > 0, nodeSize > prefix + recordSize, nodeSize <= 1 << 24, depth <= 16, total <= 10_000_000 else {
            throw ConvertError("HDF5: bad B-tree v2 header (corrupt file)")
        }
        if isUndefined(root) || total == 0 { return (type, recordSize, []) }
        // Per-depth record capacities, which size the child pointers of internal nodes (as libhdf5 computes them).
        var maxRecords = [(nodeSize - prefix) / recordSize]
        var cumMax = [maxRecords[0]]
        var cumSize = [0]
        let nrecSize = Self.encSize(maxRecords[0])
        if depth >= 1 {
            for d in 1...depth {
                let pointer = so + nrecSize + (d > 1 ? cumSize[d - 1] : 0)
                let m = (nodeSize - prefix - pointer) / (recordSize + pointer)
                guard m > 0 else { throw ConvertError("HDF5: bad B-tree v2 node size (corrupt file)") }
                maxRecords.append(m)
                let (c, overflow) = (m + 1).multipliedReportingOverflow(by: cumMax[d - 1])
                guard !overflow, c + m < 1 << 48 else { throw ConvertError("HDF5: B-tree v2 is too large") }
                cumMax.append(c + m)
                cumSize.append(Self.encSize(c + m))
            }
        }
        var records: [Int] = []
        var visited = 0
        func node(_ addr: UInt64, _ n: Int, _ d: Int) throws {
            visited += 1
            guard visited <= total + 1, records.count <= total, n <= maxRecords[d] else {
                throw ConvertError("HDF5: B-tree v2 node is inconsistent (corrupt file)")
            }
            let o = try fileOffset(Int(truncatingIfNeeded: addr))
            try r.check(o, nodeSize)
            let sig: UInt32 = d == 0 ? 0x464C_5442 : 0x4E49_5442  // "BTLF" / "BTIN"
            guard try r.u32(o) == sig else { throw ConvertError("HDF5: bad B-tree v2 node signature (corrupt file)") }
            let recs = o + 6
            if d == 0 {
                for i in 0..<n { records.append(recs + i * recordSize) }
                return
            }
            var p = recs + n * recordSize
            let width = so + nrecSize + (d > 1 ? cumSize[d - 1] : 0)
            guard p + (n + 1) * width <= o + nodeSize else { throw ConvertError("HDF5: B-tree v2 node overflows (corrupt file)") }
            for i in 0...n {
                let child = try r.uN(p, so)
                let cn = try r.int(p + so, nrecSize)
                try node(child, cn, d - 1)
                if i < n { records.append(recs + i * recordSize) }
                p += width
            }
        }
        try node(root, rootRecords, depth)
        return (type, recordSize, records)
    }

    // MARK: Dense link storage

    /// The links of a group in dense storage: each name-index record (name hash, 7-byte heap ID) points at a link
    /// message stored in the group's fractal heap.
    func denseLinks(heap: Int, nameIndex: Int) throws -> [(String, Int)] {
        let h = try FractalHeap(self, header: heap)
        let tree = try btree2Records(nameIndex)
        guard tree.type == 5, tree.recordSize >= 4 + 7 else { throw ConvertError("HDF5: group name index has record type \(tree.type)") }
        var out: [(String, Int)] = []
        for rec in tree.records {
            let (at, len) = try h.object(id: rec + 4, idLength: tree.recordSize - 4)
            if let l = try linkMessage(Message(type: 6, at: at, size: len)) { out.append(l) }
        }
        return out
    }

    /// A fractal heap's doubling table: enough of its header to find managed and tiny objects.
    struct FractalHeap {
        let f: HDF5File
        let offSize: Int, lenSize: Int
        let width: Int, startSize: Int, maxDirect: Int
        let root: UInt64, rootRows: Int
        let checksummed: Bool

        init(_ f: HDF5File, header address: Int) throws {
            self.f = f
            let r = f.r, so = f.so, sl = f.sl
            let a = try f.fileOffset(address)
            guard try r.u32(a) == 0x5048_5246 else { throw ConvertError("HDF5: bad fractal heap signature (corrupt file)") }  // "FRHP"
            let filterLen = Int(try r.u16(a + 7))
            guard filterLen == 0 else { throw ConvertError("HDF5: filtered fractal heaps are not supported") }
            checksummed = try r.u8(a + 9) & 2 != 0
            let maxManaged = Int(try r.u32(a + 10))
            var p = a + 14 + sl + so + sl + so + 8 * sl
            width = Int(try r.u16(p)); p += 2
            startSize = try r.int(p, sl); p += sl
            maxDirect = try r.int(p, sl); p += sl
            let maxHeapBits = Int(try r.u16(p)); p += 2
            p += 2  // starting rows of the root indirect block
            root = try r.uN(p, so); p += so
            rootRows = Int(try r.u16(p))
            guard width >= 1, width <= 1 << 16, startSize >= 1, startSize <= maxDirect, maxDirect <= 1 << 40,
                  startSize & (startSize - 1) == 0, maxDirect & (maxDirect - 1) == 0, width & (width - 1) == 0,
                  (1...64).contains(maxHeapBits), rootRows <= 64 else {
                throw ConvertError("HDF5: bad fractal heap header (corrupt file)")
            }
            offSize = (maxHeapBits + 7) / 8
            lenSize = min((HDF5File.log2(maxDirect) + 7) / 8, HDF5File.encSize(maxManaged))
        }

        /// File offset and length of the object with the heap ID at file offset `id`.
        func object(id: Int, idLength: Int) throws -> (Int, Int) {
            let r = f.r
            let flags = Int(try r.u8(id))
            switch (flags >> 4) & 3 {
            case 0:  // managed
                guard 1 + offSize + lenSize <= idLength else { throw ConvertError("HDF5: fractal heap ID is too short") }
                let off = try r.int(id + 1, offSize), len = try r.int(id + 1 + offSize, lenSize)
                return (try managed(offset: off, length: len), len)
            case 2:  // tiny: stored in the ID itself
                let len = (flags & 0x0F) + 1
                guard len < idLength else { throw ConvertError("HDF5: bad tiny heap object (corrupt file)") }
                return (id + 1, len)
            default:
                throw ConvertError("HDF5: huge fractal heap objects are not supported")
            }
        }

        /// The file offset of `length` bytes at heap offset `offset`, found through the doubling table.
        func managed(offset: Int, length: Int) throws -> Int {
            let r = f.r, so = f.so
            guard !f.isUndefined(root) else { throw ConvertError("HDF5: fractal heap has no root block (corrupt file)") }
            var block = root, blockOffset = 0, blockSize = startSize
            if rootRows > 0 {
                // Row 0 and 1 hold blocks of the starting size, each later row blocks twice the previous row's.
                var row = 0, rowStart = 0, size = startSize
                while true {
                    guard row < rootRows else { throw ConvertError("HDF5: heap offset \(offset) is outside the fractal heap") }
                    if offset < rowStart + width * size { break }
                    rowStart += width * size
                    if row >= 1 { size *= 2 }
                    row += 1
                }
                guard size <= maxDirect else {
                    throw ConvertError("HDF5: fractal heaps with nested indirect blocks are not supported")
                }
                let col = (offset - rowStart) / size
                let ib = try f.fileOffset(Int(truncatingIfNeeded: root))
                guard try r.u32(ib) == 0x4249_4846 else { throw ConvertError("HDF5: bad fractal heap indirect block (corrupt file)") }  // "FHIB"
                let entry = ib + 5 + so + offSize + (row * width + col) * so
                block = try r.uN(entry, so)
                blockOffset = rowStart + col * size
                blockSize = size
                guard !f.isUndefined(block) else { throw ConvertError("HDF5: heap object in an unallocated block (corrupt file)") }
            }
            let db = try f.fileOffset(Int(truncatingIfNeeded: block))
            guard try r.u32(db) == 0x4244_4846 else { throw ConvertError("HDF5: bad fractal heap direct block (corrupt file)") }  // "FHDB"
            let header = 5 + so + offSize + (checksummed ? 4 : 0)
            let rel = offset - blockOffset
            guard rel >= header, length >= 0, rel + length <= blockSize else {
                throw ConvertError("HDF5: heap object outside its block (corrupt file)")
            }
            try r.check(db + rel, length)
            return db + rel
        }
    }

    // MARK: Extensible arrays

    /// An extensible array (chunk index of datasets with one unlimited dimension): elements in the index block,
    /// then in data blocks reached directly or through super blocks.
    struct ExtensibleArray {
        let f: HDF5File
        let elementSize: Int
        let indexElements: Int, dataBlockMin: Int, arrayOffSize: Int, pageBits: Int
        let indexBlock: Int
        /// One more than the highest element index ever set: elements at or past it were never written.
        let maxIndexSet: Int
        /// Per super block: number of data blocks, elements per data block, first element index, first data block.
        var sblk: [(ndblks: Int, nelmts: Int, startIdx: Int, startDblk: Int)] = []
        let directDblks: Int, iblockSblks: Int

        init(_ f: HDF5File, header address: Int) throws {
            self.f = f
            let r = f.r, so = f.so, sl = f.sl
            let a = try f.fileOffset(address)
            guard try r.u32(a) == 0x4448_4145 else { throw ConvertError("HDF5: bad extensible array header (corrupt file)") }  // "EAHD"
            elementSize = Int(try r.u8(a + 6))
            let maxBits = Int(try r.u8(a + 7))
            indexElements = Int(try r.u8(a + 8))
            dataBlockMin = Int(try r.u8(a + 9))
            let sblkMinPtrs = Int(try r.u8(a + 10))
            pageBits = Int(try r.u8(a + 11))
            guard elementSize > 0, (1...64).contains(maxBits), dataBlockMin >= 1, dataBlockMin & (dataBlockMin - 1) == 0,
                  sblkMinPtrs >= 2, sblkMinPtrs & (sblkMinPtrs - 1) == 0, HDF5File.log2(dataBlockMin) < maxBits, pageBits < 64 else {
                throw ConvertError("HDF5: bad extensible array header (corrupt file)")
            }
            maxIndexSet = try r.int(a + 12 + 4 * sl, sl)
            let ib = try r.uN(a + 12 + 6 * sl, so)
            guard !f.isUndefined(ib) else { throw ConvertError("HDF5: extensible array has no index block") }
            indexBlock = try f.fileOffset(Int(truncatingIfNeeded: ib))
            guard try r.u32(indexBlock) == 0x4249_4145 else { throw ConvertError("HDF5: bad extensible array index block (corrupt file)") }  // "EAIB"
            arrayOffSize = (maxBits + 7) / 8
            let nsblks = 1 + maxBits - HDF5File.log2(dataBlockMin)
            var startIdx = 0, startDblk = 0
            for u in 0..<nsblks {
                let nd = 1 << min(u / 2, 40), ne = (1 << min((u + 1) / 2, 40)) * dataBlockMin
                sblk.append((nd, ne, startIdx, startDblk))
                startIdx = min(startIdx + nd * ne, 1 << 62); startDblk = min(startDblk + nd, 1 << 62)
            }
            directDblks = 2 * (sblkMinPtrs - 1)
            iblockSblks = 2 * HDF5File.log2(sblkMinPtrs)
        }

        /// File offset of element `i`, or nil when the block holding it was never allocated.
        func element(_ i: Int) throws -> Int? {
            let r = f.r, so = f.so
            let elements = indexBlock + 6 + so
            if i < indexElements { return elements + i * elementSize }
            let e = i - indexElements
            let s = HDF5File.log2(e / dataBlockMin + 1)
            guard s < sblk.count else { throw ConvertError("HDF5: extensible array element \(i) out of range") }
            let info = sblk[s]
            let within = e - info.startIdx
            guard within >= 0 else { throw ConvertError("HDF5: extensible array is inconsistent (corrupt file)") }
            guard info.nelmts <= 1 << pageBits else { throw ConvertError("HDF5: paged extensible array data blocks are not supported") }
            let dblkAddrs = elements + indexElements * elementSize
            var dblock: UInt64
            if s < iblockSblks {
                let d = info.startDblk + within / info.nelmts
                guard d < directDblks else { throw ConvertError("HDF5: extensible array is inconsistent (corrupt file)") }
                dblock = try r.uN(dblkAddrs + d * so, so)
            } else {
                let sb = try r.uN(dblkAddrs + directDblks * so + (s - iblockSblks) * so, so)
                if f.isUndefined(sb) { return nil }
                let sbo = try f.fileOffset(Int(truncatingIfNeeded: sb))
                guard try r.u32(sbo) == 0x4253_4145 else { throw ConvertError("HDF5: bad extensible array super block (corrupt file)") }  // "EASB"
                dblock = try r.uN(sbo + 6 + so + arrayOffSize + (within / info.nelmts) * so, so)
            }
            if f.isUndefined(dblock) { return nil }
            let db = try f.fileOffset(Int(truncatingIfNeeded: dblock))
            guard try r.u32(db) == 0x4244_4145 else { throw ConvertError("HDF5: bad extensible array data block (corrupt file)") }  // "EADB"
            let at = db + 6 + so + arrayOffSize + (within % info.nelmts) * elementSize
            try r.check(at, elementSize)
            return at
        }
    }
}
