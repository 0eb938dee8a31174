import OnyxTensor

/// A small pure-Swift reader for the subset of HDF5 that h5py writes for Keras: superblocks v0–v3, v1/v2 object
/// headers, symbol-table and link-message groups, contiguous / compact / chunked storage (deflate, shuffle,
/// fletcher32 filters), attributes with numeric, fixed-length and variable-length string values.
/// Every offset read from the file is bounds-checked: corrupt or truncated files throw `ConvertError`.
public final class HDF5File {
    let r: ByteReader
    /// Size in bytes of file offsets and lengths.
    let so: Int, sl: Int
    let base: Int
    /// Address of the root group's object header.
    public let rootAddress: Int
    private var heapCache: [Int: [Int: (Int, Int)]] = [:]

    public convenience init(bytes: [UInt8]) throws {
        try self.init(reader: ByteReader(bytes))
    }

    init(reader: ByteReader) throws {
        r = reader
        let sig: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var at = -1
        var probe = 0
        while probe + 8 <= r.b.count {
            if Array(r.b[probe..<(probe + 8)]) == sig { at = probe; break }
            probe = probe == 0 ? 512 : probe * 2
        }
        guard at >= 0 else { throw ConvertError("not an HDF5 file (no HDF5 signature)") }
        let version = Int(try r.u8(at + 8))
        let eof: UInt64
        switch version {
        case 0, 1:
            so = Int(try r.u8(at + 13)); sl = Int(try r.u8(at + 14))
            guard [2, 4, 8].contains(so), [2, 4, 8].contains(sl) else { throw ConvertError("HDF5: bad offset/length sizes \(so)/\(sl)") }
            var p = at + 24 + (version == 1 ? 4 : 0)
            base = try r.int(p, so); p += so
            eof = try r.uN(p + so, so)
            p += 3 * so  // free space, end of file, driver info
            // Root group symbol table entry: link name offset, object header address.
            rootAddress = try r.int(p + so, so)
        case 2, 3:
            so = Int(try r.u8(at + 9)); sl = Int(try r.u8(at + 10))
            guard [2, 4, 8].contains(so), [2, 4, 8].contains(sl) else { throw ConvertError("HDF5: bad offset/length sizes \(so)/\(sl)") }
            let p = at + 12
            base = try r.int(p, so)
            eof = try r.uN(p + 2 * so, so)
            rootAddress = try r.int(p + 3 * so, so)
        default:
            throw ConvertError("HDF5 superblock version \(version) is not supported")
        }
        guard base >= 0, base < r.b.count else { throw ConvertError("HDF5: bad base address") }
        // The superblock records the file's size: a shorter file was cut off.
        if !isUndefined(eof), eof > UInt64(r.b.count - base) {
            throw ConvertError("HDF5 file is truncated: its superblock says \(eof) bytes, the file has \(r.b.count - base)")
        }
    }

    // MARK: Object headers

    struct Message { var type: Int; var at: Int; var size: Int }

    /// The messages of the object header at `address` (relative to the base address), continuations followed.
    func messages(_ address: Int) throws -> [Message] {
        let a = try fileOffset(address)
        var out: [Message] = []
        var blocks: [(Int, Int, Bool)] = []  // start, length, is v2
        if try r.u8(a) == 1 {
            let size = Int(try r.u32(a + 8))
            blocks.append((a + 16, size, false))
        } else if try r.u32(a) == 0x5244_484F {  // "OHDR"
            guard try r.u8(a + 4) == 2 else { throw ConvertError("HDF5: object header version \(try r.u8(a + 4)) not supported") }
            let flags = Int(try r.u8(a + 5))
            var p = a + 6
            if flags & 0x20 != 0 { p += 16 }
            if flags & 0x10 != 0 { p += 4 }
            let w = 1 << (flags & 3)
            let size = try r.int(p, w)
            blocks.append((p + w, size, true))
            return try walk(blocks, v2CreationOrder: flags & 0x04 != 0)
        } else {
            throw ConvertError("HDF5: no object header at offset \(a) (corrupt file)")
        }
        out = try walk(blocks, v2CreationOrder: false)
        return out
    }

    private func walk(_ initial: [(Int, Int, Bool)], v2CreationOrder: Bool) throws -> [Message] {
        var blocks = initial
        var out: [Message] = []
        var seen = Set<Int>()
        var bi = 0
        while bi < blocks.count {
            let (start, length, v2) = blocks[bi]
            bi += 1
            guard seen.insert(start).inserted, blocks.count < 10_000 else { throw ConvertError("HDF5: object header continuation loop") }
            try r.check(start, length)
            var p = start
            let end = start + length - (v2 && bi > 1 ? 4 : 0)
            let hdr = v2 ? 4 + (v2CreationOrder ? 2 : 0) : 8
            while p + hdr <= end {
                let type = v2 ? Int(try r.u8(p)) : Int(try r.u16(p))
                let size = v2 ? Int(try r.u16(p + 1)) : Int(try r.u16(p + 2))
                let data = p + hdr
                guard data + size <= end else { throw ConvertError("HDF5: object header message overruns its block (corrupt file)") }
                if type == 0x10 {
                    let addr = try fileOffset(try r.int(data, so))
                    let len = try r.int(data + so, sl)
                    if v2 {
                        guard try r.u32(addr) == 0x4B48_434F else { throw ConvertError("HDF5: bad continuation block signature") }  // "OCHK"
                        blocks.append((addr + 4, len - 4, true))
                    } else {
                        blocks.append((addr, len, false))
                    }
                } else {
                    out.append(Message(type: type, at: data, size: size))
                }
                p = data + size
                if !v2 { p = start + ((p - start + 7) & ~7) }
            }
        }
        return out
    }

    /// Absolute file offset of a base-relative address; rejects the undefined address and out-of-file values.
    func fileOffset(_ address: Int) throws -> Int {
        let a = base + address
        guard address >= 0, a >= 0, a < r.b.count else {
            throw ConvertError("HDF5: address \(address) is outside the file (\(r.b.count) bytes; truncated file?)")
        }
        return a
    }

    func isUndefined(_ v: UInt64) -> Bool { so == 8 ? v == UInt64.max : v == (UInt64(1) << (8 * UInt64(so))) - 1 }

    // MARK: Groups

    /// The links of the group at `address`, in file order (name, object header address).
    public func children(_ address: Int) throws -> [(name: String, address: Int)] {
        let msgs = try messages(address)
        var out: [(String, Int)] = []
        for m in msgs {
            switch m.type {
            case 0x11:
                let btree = try r.int(m.at, so)
                let heap = try r.int(m.at + so, so)
                let heapData = try localHeapData(heap)
                var visited = 0
                try symbolTable(btree, heapData: heapData, depth: 0, visited: &visited, into: &out)
            case 0x06:
                if let l = try linkMessage(m) { out.append(l) }
            case 0x02:
                let flags = Int(try r.u8(m.at + 1))
                let p = m.at + 2 + (flags & 1 != 0 ? 8 : 0)
                let heapAddr = try r.uN(p, so), nameIndex = try r.uN(p + so, so)
                if !isUndefined(heapAddr) && !isUndefined(nameIndex) {
                    out += try denseLinks(heap: Int(truncatingIfNeeded: heapAddr), nameIndex: Int(truncatingIfNeeded: nameIndex))
                }
            default: break
            }
        }
        return out
    }

    private func localHeapData(_ address: Int) throws -> Int {
        let a = try fileOffset(address)
        guard try r.u32(a) == 0x5041_4548 else { throw ConvertError("HDF5: bad local heap signature (corrupt file)") }  // "HEAP"
        return try fileOffset(try r.int(a + 8 + 2 * sl, so))
    }

    func cString(_ at: Int) throws -> String {
        var e = at
        while true {
            guard e < r.b.count else { throw ConvertError("HDF5: unterminated name string (truncated file?)") }
            if r.b[e] == 0 { break }
            e += 1
        }
        return String(decoding: r.b[at..<e], as: UTF8.self)
    }

    private func symbolTable(_ address: Int, heapData: Int, depth: Int, visited: inout Int,
                             into out: inout [(String, Int)]) throws {
        visited += 1
        guard depth < 64, visited < 100_000 else { throw ConvertError("HDF5: group B-tree is too deep or cyclic") }
        let a = try fileOffset(address)
        if try r.u32(a) == 0x444F_4E53 {  // "SNOD"
            let n = Int(try r.u16(a + 6))
            let entry = 2 * so + 24
            for i in 0..<n {
                let e = a + 8 + i * entry
                let nameOff = try r.int(e, so)
                let obj = try r.int(e + so, so)
                out.append((try cString(heapData + nameOff), obj))
            }
            return
        }
        guard try r.u32(a) == 0x4545_5254 else { throw ConvertError("HDF5: bad group B-tree node (corrupt file)") }  // "TREE"
        guard try r.u8(a + 4) == 0 else { throw ConvertError("HDF5: group B-tree has the wrong node type") }
        let entries = Int(try r.u16(a + 6))
        var p = a + 8 + 2 * so + sl  // first key
        for _ in 0..<entries {
            let child = try r.int(p, so)
            try symbolTable(child, heapData: heapData, depth: depth + 1, visited: &visited, into: &out)
            p += so + sl
        }
    }

    func linkMessage(_ m: Message) throws -> (String, Int)? {
        var p = m.at
        guard try r.u8(p) == 1 else { throw ConvertError("HDF5: link message version \(try r.u8(p)) not supported") }
        let flags = Int(try r.u8(p + 1))
        p += 2
        var type = 0
        if flags & 0x08 != 0 { type = Int(try r.u8(p)); p += 1 }
        if flags & 0x04 != 0 { p += 8 }
        if flags & 0x10 != 0 { p += 1 }
        let w = 1 << (flags & 3)
        let len = try r.int(p, w); p += w
        let name = String(decoding: try r.slice(p, len), as: UTF8.self)
        p += len
        guard type == 0 else { return nil }  // soft / external links are not followed
        return (name, try r.int(p, so))
    }

    /// Resolves a slash-separated path from the root group.
    public func address(of path: String) throws -> Int {
        var a = rootAddress
        for part in path.split(separator: "/") where !part.isEmpty {
            guard let c = try children(a).first(where: { $0.name == part }) else {
                throw ConvertError("HDF5: '\(path)' not found (no '\(part)')")
            }
            a = c.address
        }
        return a
    }

    // MARK: Types, spaces, attributes

    indirect enum DataType {
        case integer(size: Int, signed: Bool, bigEndian: Bool)
        case float(size: Int, bigEndian: Bool)
        case string(size: Int)
        case vlenString
        case other(Int)

        var size: Int {
            switch self {
            case .integer(let s, _, _), .float(let s, _), .string(let s): return s
            case .vlenString, .other: return 0
            }
        }
    }

    func dataType(_ at: Int) throws -> (DataType, Int) {
        let cv = Int(try r.u8(at))
        let cls = cv & 0x0F
        let bf0 = Int(try r.u8(at + 1))
        let size = Int(try r.u32(at + 4))
        switch cls {
        case 0: return (.integer(size: size, signed: bf0 & 0x08 != 0, bigEndian: bf0 & 1 != 0), size)
        case 1: return (.float(size: size, bigEndian: bf0 & 1 != 0), size)
        case 3: return (.string(size: size), size)
        case 9:
            // Variable-length: type 1 = string (elements stored as length + global heap id).
            return (bf0 & 0x0F == 1 ? .vlenString : .other(9), 4 + so + 4)
        default: return (.other(cls), size)
        }
    }

    /// Dimensions of a dataspace message (nil for a null dataspace).
    func dataSpace(_ at: Int) throws -> [Int]? {
        let version = Int(try r.u8(at))
        let rank = Int(try r.u8(at + 1))
        var p: Int
        switch version {
        case 1: p = at + 8
        case 2:
            let t = Int(try r.u8(at + 3))
            if t == 2 { return nil }
            p = at + 4
        default: throw ConvertError("HDF5: dataspace version \(version) not supported")
        }
        var dims: [Int] = []
        for _ in 0..<rank {
            let d = try r.uN(p, sl)
            guard d < UInt64(Int32.max) else { throw ConvertError("HDF5: dataspace dimension \(d) is too large") }
            dims.append(Int(d)); p += sl
        }
        return dims
    }

    /// An attribute value.
    public enum Value {
        case strings([String])
        case numbers([Double], shape: [Int])

        public var string: String? { if case .strings(let s) = self, s.count == 1 { return s[0] }; return nil }
        public var stringList: [String]? {
            switch self {
            case .strings(let s): return s
            case .numbers(let v, _): return v.isEmpty ? [] : nil
            }
        }
    }

    /// The attributes of the object at `address` (attributes of unsupported types are skipped).
    public func attributes(_ address: Int) throws -> [String: Value] {
        var out: [String: Value] = [:]
        for m in try messages(address) where m.type == 0x0C {
            let v = Int(try r.u8(m.at))
            let nameSize = Int(try r.u16(m.at + 2)), dtSize = Int(try r.u16(m.at + 4)), dsSize = Int(try r.u16(m.at + 6))
            let pad = { (n: Int) in v == 1 ? (n + 7) & ~7 : n }
            var p = m.at + 8 + (v == 3 ? 1 : 0)
            guard v >= 1, v <= 3 else { throw ConvertError("HDF5: attribute message version \(v) not supported") }
            let nameBytes = try r.slice(p, nameSize)
            let name = String(decoding: nameBytes.prefix { $0 != 0 }, as: UTF8.self)
            p += pad(nameSize)
            let (dt, esize) = try dataType(p)
            p += pad(dtSize)
            guard let dims = try dataSpace(p) else { out[name] = .strings([]); continue }
            p += pad(dsSize)
            let count = try product(dims)
            guard count >= 0, count < 100_000_000 else { throw ConvertError("HDF5: attribute '\(name)' is too large") }
            if let value = try decode(dt, elementSize: esize, count: count, at: p, dims: dims) { out[name] = value }
        }
        return out
    }

    private func decode(_ dt: DataType, elementSize: Int, count: Int, at p: Int, dims: [Int]) throws -> Value? {
        try r.check(p, elementSize * count)
        switch dt {
        case .vlenString:
            var s: [String] = []
            for i in 0..<count {
                let e = p + i * elementSize
                let len = Int(try r.u32(e))
                let coll = try r.int(e + 4, so)
                let idx = Int(try r.u32(e + 4 + so))
                if len == 0 { s.append(""); continue }
                let (off, size) = try globalHeapObject(coll, idx)
                guard len <= size else { throw ConvertError("HDF5: variable-length string longer than its heap object") }
                s.append(String(decoding: try r.slice(off, len), as: UTF8.self))
            }
            return .strings(s)
        case .string(let size):
            var s: [String] = []
            for i in 0..<count {
                let bytes = try r.slice(p + i * size, size)
                var str = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
                while str.hasSuffix(" ") { str.removeLast() }
                s.append(str)
            }
            return .strings(s)
        case .integer, .float:
            return .numbers(try numbers(dt, count: count, at: p), shape: dims)
        case .other:
            return nil
        }
    }

    private func numbers(_ dt: DataType, count: Int, at p: Int) throws -> [Double] {
        let size = dt.size
        try r.check(p, size * count)
        var out = [Double](repeating: 0, count: count)
        for i in 0..<count {
            var v: UInt64 = 0
            let e = p + i * size
            switch dt {
            case .integer(_, _, let be), .float(_, let be):
                for k in 0..<size { v |= UInt64(r.b[e + (be ? size - 1 - k : k)]) << (8 * UInt64(k)) }
            default: break
            }
            out[i] = try Self.double(bits: v, dt)
        }
        return out
    }

    static func double(bits v: UInt64, _ dt: DataType) throws -> Double {
        switch dt {
        case .float(let size, _):
            switch size {
            case 2: return Double(Float16(bitPattern: UInt16(truncatingIfNeeded: v)))
            case 4: return Double(Float(bitPattern: UInt32(truncatingIfNeeded: v)))
            case 8: return Double(bitPattern: v)
            default: throw ConvertError("HDF5: \(size)-byte floats are not supported")
            }
        case .integer(let size, let signed, _):
            guard size >= 1, size <= 8 else { throw ConvertError("HDF5: \(size)-byte integers are not supported") }
            if signed {
                let shift = UInt64(64 - 8 * size)
                return Double(Int64(bitPattern: v << shift) >> Int64(shift))
            }
            return Double(v)
        default: throw ConvertError("HDF5: not a numeric type")
        }
    }

    private func globalHeapObject(_ collection: Int, _ index: Int) throws -> (Int, Int) {
        if let c = heapCache[collection], let o = c[index] { return o }
        let a = try fileOffset(collection)
        guard try r.u32(a) == 0x4C4F_4347 else { throw ConvertError("HDF5: bad global heap signature (corrupt file)") }  // "GCOL"
        let size = try r.int(a + 8, sl)
        try r.check(a, size)
        var objects: [Int: (Int, Int)] = [:]
        var p = a + 8 + sl
        while p + 8 + sl <= a + size {
            let idx = Int(try r.u16(p))
            if idx == 0 { break }
            let osize = try r.int(p + 8, sl)
            let data = p + 8 + sl
            try r.check(data, osize)
            objects[idx] = (data, osize)
            p = data + ((osize + 7) & ~7)
        }
        heapCache[collection] = objects
        guard let o = objects[index] else { throw ConvertError("HDF5: global heap object \(index) not found (corrupt file)") }
        return o
    }

    // MARK: Datasets

    /// True when the object at `address` is a dataset (has a data layout message).
    public func isDataset(_ address: Int) throws -> Bool { try messages(address).contains { $0.type == 0x08 } }

    /// Reads a numeric dataset as float32.
    public func readFloats(_ address: Int) throws -> Tensor {
        let msgs = try messages(address)
        guard let ds = msgs.first(where: { $0.type == 0x01 }), let dtm = msgs.first(where: { $0.type == 0x03 }),
              let lay = msgs.first(where: { $0.type == 0x08 }) else {
            throw ConvertError("HDF5: object at \(address) is not a dataset")
        }
        let dims = try dataSpace(ds.at) ?? []
        let (dt, esize) = try dataType(dtm.at)
        switch dt {
        case .integer, .float: break
        default: throw ConvertError("HDF5: dataset has a non-numeric type")
        }
        let count = try product(dims)
        // Even compressed data expands at most ~1000x: a larger claim comes from a corrupt dataspace.
        guard count >= 0, count < 1 << 31, count * esize <= max(1 << 26, r.b.count * 1100) else {
            throw ConvertError("HDF5: dataset of \(count) elements is too large for this \(r.b.count)-byte file (corrupt file?)")
        }
        var filters: [(id: Int, values: [Int])] = []
        if let f = msgs.first(where: { $0.type == 0x0B }) { filters = try filterPipeline(f.at) }
        let raw = try layoutBytes(lay.at, dims: dims, maxDims: try dataSpaceMax(ds.at), elementSize: esize, filters: filters)
        guard raw.count >= count * esize else { throw ConvertError("HDF5: dataset data is truncated") }
        let tmp = HDF5File.Scratch(raw)
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            var v: UInt64 = 0
            let e = i * esize
            switch dt {
            case .integer(_, _, let be), .float(_, let be):
                for k in 0..<esize { v |= UInt64(tmp.b[e + (be ? esize - 1 - k : k)]) << (8 * UInt64(k)) }
            default: break
            }
            values[i] = Float(try Self.double(bits: v, dt))
        }
        return try Tensor(shape: dims, values: values)
    }

    struct Scratch { let b: [UInt8]; init(_ b: [UInt8]) { self.b = b } }

    private func filterPipeline(_ at: Int) throws -> [(id: Int, values: [Int])] {
        let v = Int(try r.u8(at))
        let n = Int(try r.u8(at + 1))
        var p = at + (v == 1 ? 8 : 2)
        var out: [(Int, [Int])] = []
        for _ in 0..<n {
            let id = Int(try r.u16(p))
            var nameLen = 0
            p += 2
            if v == 1 || id >= 256 { nameLen = Int(try r.u16(p)); p += 2 }
            p += 2  // flags
            let nvals = Int(try r.u16(p)); p += 2
            p += v == 1 ? (nameLen + 7) & ~7 : nameLen
            var vals: [Int] = []
            for _ in 0..<nvals { vals.append(Int(try r.u32(p))); p += 4 }
            if v == 1 && nvals % 2 == 1 { p += 4 }
            out.append((id, vals))
        }
        return out
    }

    /// The maximum dimensions of a dataspace message (nil entries: unlimited); nil when not stored (= dims).
    func dataSpaceMax(_ at: Int) throws -> [Int?]? {
        let version = Int(try r.u8(at)), rank = Int(try r.u8(at + 1)), flags = Int(try r.u8(at + 2))
        guard flags & 1 != 0, version == 1 || version == 2 else { return nil }
        let p = (version == 1 ? at + 8 : at + 4) + rank * sl
        return try (0..<rank).map { k in
            let d = try r.uN(p + k * sl, sl)
            return isUndefined(d) || d >= UInt64(Int32.max) ? nil : Int(d)
        }
    }

    private func layoutBytes(_ at: Int, dims: [Int], maxDims: [Int?]?, elementSize: Int, filters: [(id: Int, values: [Int])]) throws -> [UInt8] {
        let v = Int(try r.u8(at))
        let total = try product(dims) * elementSize
        switch v {
        case 3, 4, 5:  // (version 5, HDF5 2.0, is version 4 with wider filtered-chunk size fields in the index)
            let cls = Int(try r.u8(at + 1))
            switch cls {
            case 0:
                let size = Int(try r.u16(at + 2))
                return Array(try r.slice(at + 4, min(size, total)))
            case 1:
                let addr = try r.uN(at + 2, so)
                if isUndefined(addr) { return [UInt8](repeating: 0, count: total) }  // never written: fill value 0
                return Array(try r.slice(try fileOffset(Int(truncatingIfNeeded: addr)), total))
            case 2:
                if v >= 4 { return try chunkedV4(at, dims: dims, maxDims: maxDims, elementSize: elementSize, filters: filters) }
                let nd = Int(try r.u8(at + 2))
                let btree = try r.uN(at + 3, so)
                var chunk: [Int] = []
                for k in 0..<nd { chunk.append(Int(try r.u32(at + 3 + so + 4 * k))) }
                guard nd == dims.count + 1 else { throw ConvertError("HDF5: chunk rank does not match the dataspace") }
                var out = [UInt8](repeating: 0, count: total)
                if isUndefined(btree) { return out }
                var visited = 0
                try readChunks(Int(truncatingIfNeeded: btree), chunk: Array(chunk.prefix(dims.count)), dims: dims, esize: elementSize,
                               filters: filters, depth: 0, visited: &visited, into: &out)
                return out
            default: throw ConvertError("HDF5: data layout class \(cls) not supported")
            }
        case 1, 2:
            let nd = Int(try r.u8(at + 1))
            let cls = Int(try r.u8(at + 2))
            var p = at + 8
            switch cls {
            case 0:
                p += 4 * nd
                let size = Int(try r.u32(p))
                return Array(try r.slice(p + 4, min(size, total)))
            case 1:
                let addr = try r.uN(p, so)
                if isUndefined(addr) { return [UInt8](repeating: 0, count: total) }
                return Array(try r.slice(try fileOffset(Int(truncatingIfNeeded: addr)), total))
            default: throw ConvertError("HDF5: version \(v) chunked layouts are not supported")
            }
        default: throw ConvertError("HDF5: data layout version \(v) not supported")
        }
    }

    /// Layout message v4 chunked storage: single-chunk, implicit and (unpaged) fixed-array chunk indexes.
    private func chunkedV4(_ at: Int, dims: [Int], maxDims: [Int?]?, elementSize esize: Int, filters: [(id: Int, values: [Int])]) throws -> [UInt8] {
        let flags = Int(try r.u8(at + 2))
        let nd = Int(try r.u8(at + 3))
        let encLen = Int(try r.u8(at + 4))
        guard nd == dims.count + 1, (1...8).contains(encLen) else { throw ConvertError("HDF5: chunk rank does not match the dataspace") }
        var chunk: [Int] = []
        var p = at + 5
        for _ in 0..<nd { chunk.append(try r.int(p, encLen)); p += encLen }
        chunk.removeLast()
        let indexType = Int(try r.u8(p)); p += 1
        var out = [UInt8](repeating: 0, count: try product(dims) * esize)
        let chunkBytes = try product(chunk) * esize
        let grid = zip(dims, chunk).map { $0.1 > 0 ? ($0.0 + $0.1 - 1) / $0.1 : 0 }
        let nchunks = try product(grid)
        // Fixed and extensible arrays index chunks by their position in the grid of the *maximum* dimensions;
        // an extensible array moves its unlimited dimension first ("swizzled").
        let maxd = maxDims ?? dims.map { Optional($0) }
        guard maxd.count == dims.count else { throw ConvertError("HDF5: dataspace maximum rank does not match") }
        let maxGrid = zip(maxd, zip(dims, chunk)).map { m, dc in
            m.map { dc.1 > 0 ? max(($0 + dc.1 - 1) / dc.1, 1) : 0 } ?? (dc.1 > 0 ? (dc.0 + dc.1 - 1) / dc.1 : 0)
        }
        let unlimited = maxd.indices.filter { maxd[$0] == nil }
        /// Grid coordinates of the i-th chunk of the current grid.
        func coords(_ i: Int) -> [Int] {
            var c = [Int](repeating: 0, count: dims.count), rem = i
            for k in stride(from: dims.count - 1, through: 0, by: -1) { c[k] = rem % max(grid[k], 1); rem /= max(grid[k], 1) }
            return c
        }
        /// Index of a chunk in an array laid out over the maximum grid, with dimension `first` moved first.
        func arrayIndex(_ c: [Int], first: Int = 0) throws -> Int {
            let order = [first] + c.indices.filter { $0 != first }
            var idx = 0
            for k in order {
                let (m, o1) = idx.multipliedReportingOverflow(by: max(maxGrid[k], 1))
                let (a, o2) = m.addingReportingOverflow(c[k])
                guard !o1, !o2, a < 1 << 40 else { throw ConvertError("HDF5: chunk index out of range (corrupt file)") }
                idx = a
            }
            return idx
        }
        func load(_ index: Int, _ addr: Int, _ size: Int, _ mask: Int) throws {
            var offs = [Int](repeating: 0, count: dims.count)
            var rem = index
            for k in stride(from: dims.count - 1, through: 0, by: -1) { offs[k] = (rem % grid[k]) * chunk[k]; rem /= grid[k] }
            try loadAt(offs, addr, size, mask)
        }
        func loadAt(_ offs: [Int], _ addr: Int, _ size: Int, _ mask: Int) throws {
            var data = Array(try r.slice(try fileOffset(addr), size))
            for (i, f) in filters.enumerated().reversed() where mask & (1 << i) == 0 {
                data = try applyFilter(f.id, data, values: f.values, expected: chunkBytes)
            }
            try place(data, offsets: offs, chunk: chunk, dims: dims, esize: esize, into: &out)
        }
        switch indexType {
        case 1:  // single chunk
            var size = chunkBytes, mask = 0
            if flags & 2 != 0 { size = try r.int(p, sl); mask = Int(try r.u32(p + sl)); p += sl + 4 }
            let addr = try r.uN(p, so)
            if !isUndefined(addr) { try load(0, Int(truncatingIfNeeded: addr), size, mask) }
        case 2:  // implicit: chunks stored contiguously in grid order, unfiltered
            let addr = try r.uN(p, so)
            if !isUndefined(addr) {
                for i in 0..<nchunks { try load(i, Int(truncatingIfNeeded: addr) + i * chunkBytes, chunkBytes, 0) }
            }
        case 3:  // fixed array
            p += 1  // page bits
            let haddr = try r.uN(p, so)
            if isUndefined(haddr) { return out }
            let h = try fileOffset(Int(truncatingIfNeeded: haddr))
            guard try r.u32(h) == 0x4448_4146 else { throw ConvertError("HDF5: bad fixed array header (corrupt file)") }  // "FAHD"
            let entrySize = Int(try r.u8(h + 6))
            let pageBits = Int(try r.u8(h + 7))
            let maxEntries = try r.int(h + 8, sl)
            guard maxEntries <= 1 << min(pageBits, 40) else { throw ConvertError("HDF5: paged fixed arrays are not supported") }
            let lastIndex = nchunks == 0 ? -1 : try arrayIndex(grid.map { max($0 - 1, 0) })
            guard maxEntries > lastIndex else {
                throw ConvertError("HDF5: fixed array has too few entries")
            }
            let daddr = try r.uN(h + 8 + sl, so)
            if isUndefined(daddr) { return out }
            let db = try fileOffset(Int(truncatingIfNeeded: daddr))
            guard try r.u32(db) == 0x4244_4146 else { throw ConvertError("HDF5: bad fixed array data block (corrupt file)") }  // "FADB"
            for i in 0..<nchunks {
                let c = coords(i)
                let e = db + 6 + so + (try arrayIndex(c)) * entrySize
                let addr = try r.uN(e, so)
                var size = chunkBytes, mask = 0
                if !filters.isEmpty {
                    let w = entrySize - so - 4
                    guard w >= 1, w <= 8 else { throw ConvertError("HDF5: bad fixed array entry size") }
                    size = try r.int(e + so, w); mask = Int(try r.u32(e + so + w))
                }
                if !isUndefined(addr) { try loadAt(zip(c, chunk).map { $0 * $1 }, Int(truncatingIfNeeded: addr), size, mask) }
            }
        case 4:  // extensible array (one unlimited dimension)
            p += 5  // max bits, index elements, min pointers, min elements, page bits (also in the array's header)
            let haddr = try r.uN(p, so)
            if isUndefined(haddr) { return out }
            let ea = try ExtensibleArray(self, header: Int(truncatingIfNeeded: haddr))
            guard ea.elementSize >= so + (filters.isEmpty ? 0 : 5) else { throw ConvertError("HDF5: bad extensible array element size") }
            guard unlimited.count == 1 else { throw ConvertError("HDF5: extensible array index without one unlimited dimension") }
            for i in 0..<nchunks {
                let c = coords(i)
                let idx = try arrayIndex(c, first: unlimited[0])
                guard idx >= 0, idx < ea.maxIndexSet, let e = try ea.element(idx) else { continue }
                let addr = try r.uN(e, so)
                var size = chunkBytes, mask = 0
                if !filters.isEmpty {
                    let w = ea.elementSize - so - 4
                    guard w <= 8 else { throw ConvertError("HDF5: bad extensible array element size") }
                    size = try r.int(e + so, w); mask = Int(try r.u32(e + so + w))
                }
                if !isUndefined(addr) { try loadAt(zip(c, chunk).map { $0 * $1 }, Int(truncatingIfNeeded: addr), size, mask) }
            }
        case 5:  // version 2 B-tree (several unlimited dimensions)
            p += 6  // node size, split and merge percents (also in the tree's header)
            let baddr = try r.uN(p, so)
            if isUndefined(baddr) { return out }
            let tree = try btree2Records(Int(truncatingIfNeeded: baddr))
            let rank = dims.count
            let filtered = tree.type == 11
            guard tree.type == (filters.isEmpty ? 10 : 11) else { throw ConvertError("HDF5: chunk B-tree has record type \(tree.type)") }
            let w = tree.recordSize - so - 8 * rank - (filtered ? 4 : 0)
            guard filtered ? (1...8).contains(w) : w == 0 else { throw ConvertError("HDF5: bad chunk B-tree record size") }
            for rec in tree.records {
                let addr = try r.uN(rec, so)
                var size = chunkBytes, mask = 0
                var q = rec + so
                if filtered { size = try r.int(q, w); mask = Int(try r.u32(q + w)); q += w + 4 }
                var offs: [Int] = []
                for k in 0..<rank {
                    let scaled = try r.uN(q + 8 * k, 8)
                    guard scaled < UInt64(max(grid[k], 1)) else { throw ConvertError("HDF5: chunk offset out of range (corrupt file)") }
                    offs.append(Int(scaled) * chunk[k])
                }
                if !isUndefined(addr) { try loadAt(offs, Int(truncatingIfNeeded: addr), size, mask) }
            }
        default:
            throw ConvertError("HDF5: chunk index type \(indexType) is not supported")
        }
        return out
    }

    private func readChunks(_ address: Int, chunk: [Int], dims: [Int], esize: Int, filters: [(id: Int, values: [Int])],
                            depth: Int, visited: inout Int, into out: inout [UInt8]) throws {
        visited += 1
        guard depth < 64, visited < 1_000_000 else { throw ConvertError("HDF5: chunk B-tree is too deep or cyclic") }
        let a = try fileOffset(address)
        guard try r.u32(a) == 0x4545_5254, try r.u8(a + 4) == 1 else { throw ConvertError("HDF5: bad chunk B-tree node (corrupt file)") }
        let level = Int(try r.u8(a + 5))
        let entries = Int(try r.u16(a + 6))
        let rank = dims.count
        let keySize = 8 + 8 * (rank + 1)
        var p = a + 8 + 2 * so
        for _ in 0..<entries {
            let csize = Int(try r.u32(p))
            let mask = Int(try r.u32(p + 4))
            var offs: [Int] = []
            for k in 0..<rank { offs.append(try r.int(p + 8 + 8 * k, 8)) }
            let child = try r.int(p + keySize, so)
            if level > 0 {
                try readChunks(child, chunk: chunk, dims: dims, esize: esize, filters: filters, depth: depth + 1,
                               visited: &visited, into: &out)
            } else {
                var data = Array(try r.slice(try fileOffset(child), csize))
                for (i, f) in filters.enumerated().reversed() where mask & (1 << i) == 0 {
                    data = try applyFilter(f.id, data, values: f.values, expected: try product(chunk) * esize)
                }
                try place(data, offsets: offs, chunk: chunk, dims: dims, esize: esize, into: &out)
            }
            p += keySize + so
        }
    }

    func applyFilter(_ id: Int, _ data: [UInt8], values: [Int], expected: Int) throws -> [UInt8] {
        switch id {
        case 1:
            do { return try Inflate.zlib(data[...], expectedSize: expected) } catch let e as InflateError {
                throw ConvertError("HDF5 deflate filter: \(e.description)")
            }
        case 2:
            let es = values.first ?? 1
            guard es > 1 else { return data }
            let n = data.count / es
            var out = data
            for i in 0..<n { for b in 0..<es { out[i * es + b] = data[b * n + i] } }
            return out
        case 3:
            guard data.count >= 4 else { throw ConvertError("HDF5: fletcher32 chunk is truncated") }
            return Array(data.dropLast(4))
        default: throw ConvertError("HDF5: filter \(id) is not supported (only deflate, shuffle, fletcher32)")
        }
    }

    func place(_ data: [UInt8], offsets: [Int], chunk: [Int], dims: [Int], esize: Int, into out: inout [UInt8]) throws {
        let rank = dims.count
        guard try data.count >= product(chunk) * esize else { throw ConvertError("HDF5: chunk data is truncated") }
        if rank == 0 { for k in 0..<min(esize, out.count) { out[k] = data[k] }; return }
        for k in 0..<rank where offsets[k] < 0 || offsets[k] >= dims[k] || offsets[k] % max(chunk[k], 1) != 0 {
            throw ConvertError("HDF5: chunk offset out of range (corrupt file)")
        }
        // Iterate the chunk's rows (all but the last dimension), copying the in-bounds part of each row.
        var idx = [Int](repeating: 0, count: rank)
        let rowLen = min(chunk[rank - 1], dims[rank - 1] - offsets[rank - 1]) * esize
        while true {
            var inBounds = true
            var src = 0, dst = 0
            for k in 0..<rank {
                src = src * chunk[k] + idx[k]
                let g = offsets[k] + idx[k]
                if g >= dims[k] { inBounds = false }
                dst = dst * dims[k] + g
            }
            if inBounds && rowLen > 0 {
                for b in 0..<rowLen { out[dst * esize + b] = data[src * esize + b] }
            }
            var k = rank - 2
            while k >= 0 {
                idx[k] += 1
                if idx[k] < chunk[k] { break }
                idx[k] = 0
                k -= 1
            }
            if k < 0 { break }
        }
    }
}
