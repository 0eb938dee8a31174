import OnyxTensor

// DepthToSpace, SpaceToDepth, Col2Im (GridSample and AffineGrid live in GridSample.swift).

extension ShapeOps {
    static func registerSpatial(_ t: inout OperatorTable) {
        t.add("DepthToSpace") { try BlockRearrangeOp($0, toSpace: true) }
        t.add("SpaceToDepth") { try BlockRearrangeOp($0, toSpace: false) }
        t.add("Col2Im") { try Col2ImOp($0) }
        registerGrid(&t)
    }
}

/// DepthToSpace / SpaceToDepth as a 6-D reshape + transpose.
struct BlockRearrangeOp: TensorKernel {
    let block: Int, crd: Bool, toSpace: Bool
    init(_ c: NodeContext, toSpace: Bool) throws {
        block = try c.int("blocksize")
        guard block > 0, block < (1 << 20) else { throw KernelError("blocksize \(block) is invalid") }
        let m = try c.string("mode", "DCR")
        guard m == "DCR" || m == "CRD" else { throw KernelError("unknown mode '\(m)'") }
        crd = m == "CRD"
        self.toSpace = toSpace
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0)
        guard x.rank == 4 else { throw KernelError("input must be 4-D, got rank \(x.rank)") }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let b = block
        let view: [Int], perm: [Int], outShape: [Int]
        if toSpace {
            guard c % (b * b) == 0 else { throw KernelError("channels \(c) not divisible by blocksize² \(b * b)") }
            let cc = c / (b * b)
            if crd { view = [n, cc, b, b, h, w]; perm = [0, 1, 4, 2, 5, 3] }
            else { view = [n, b, b, cc, h, w]; perm = [0, 3, 4, 1, 5, 2] }
            outShape = [n, cc, h * b, w * b]
        } else {
            guard h % b == 0, w % b == 0 else { throw KernelError("spatial dims \(h)x\(w) not divisible by blocksize \(b)") }
            view = [n, c, h / b, b, w / b, b]
            perm = crd ? [0, 1, 3, 5, 2, 4] : [0, 3, 5, 1, 2, 4]
            outShape = [n, c * b * b, h / b, w / b]
        }
        let st = Broadcast.strides(view)
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        try stridedCopy(x, base: 0, strides: perm.map { st[$0] }, shape: perm.map { view[$0] }, into: y)
        return [y]
    }
}

struct Col2ImOp: TensorKernel {
    let dilations: [Int]?, pads: [Int]?, strides: [Int]?
    init(_ c: NodeContext) throws {
        dilations = try c.ints("dilations"); pads = try c.ints("pads"); strides = try c.ints("strides")
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let image = try indexValues(try inputs.required(1, "image_shape"), "image_shape")
        let block = try indexValues(try inputs.required(2, "block_shape"), "block_shape")
        let nd = image.count
        guard nd > 0, block.count == nd, x.rank == 3 else { throw KernelError("invalid Col2Im shapes") }
        let dil = dilations ?? Array(repeating: 1, count: nd)
        let pad = pads ?? Array(repeating: 0, count: 2 * nd)
        let str = strides ?? Array(repeating: 1, count: nd)
        guard dil.count == nd, pad.count == 2 * nd, str.count == nd,
              dil.allSatisfy({ $0 > 0 }), str.allSatisfy({ $0 > 0 }), block.allSatisfy({ $0 > 0 }),
              image.allSatisfy({ $0 >= 0 }) else { throw KernelError("invalid Col2Im attributes") }
        guard (dil + pad + str + block + image).allSatisfy({ abs($0) < (1 << 24) }) else {
            throw KernelError("Col2Im attributes or shapes are too large")
        }
        let kprod = block.reduce(1, *)
        let (n, ck, l) = (x.shape[0], x.shape[1], x.shape[2])
        guard ck % kprod == 0 else { throw KernelError("input channels \(ck) not divisible by block size \(kprod)") }
        let c = ck / kprod
        // Number of sliding positions per spatial dim.
        var blocksPer: [Int] = []
        for i in 0..<nd {
            let eff = dil[i] * (block[i] - 1) + 1
            blocksPer.append(max(0, (image[i] + pad[i] + pad[i + nd] - eff) / str[i] + 1))
        }
        guard blocksPer.reduce(1, *) == l else { throw KernelError("input has \(l) blocks, expected \(blocksPer.reduce(1, *))") }
        let outShape = try checkedShape([n, c] + image)
        let imgSize = image.reduce(1, *)
        let imgStrides = Broadcast.strides(image)
        struct V: NumericVisitor {
            let x: Tensor, outShape: [Int], n: Int, c: Int, kprod: Int, l: Int, nd: Int
            let block: [Int], blocksPer: [Int], dil: [Int], pad: [Int], str: [Int], image: [Int], imgSize: Int, imgStrides: [Int]
            func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
                var acc = [Double](repeating: 0, count: n * c * imgSize)
                try x.withBuffer(of: T.self) { b in
                    var kc = [Int](repeating: 0, count: nd), bc = [Int](repeating: 0, count: nd)
                    for bi in 0..<n {
                        for ci in 0..<c {
                            for k in 0..<kprod {
                                var r = k
                                for i in stride(from: nd - 1, through: 0, by: -1) { kc[i] = r % block[i]; r /= block[i] }
                                for p in 0..<l {
                                    var q = p
                                    for i in stride(from: nd - 1, through: 0, by: -1) { bc[i] = q % blocksPer[i]; q /= blocksPer[i] }
                                    var off = 0, inside = true
                                    for i in 0..<nd {
                                        let pos = bc[i] * str[i] - pad[i] + kc[i] * dil[i]
                                        if pos < 0 || pos >= image[i] { inside = false; break }
                                        off += pos * imgStrides[i]
                                    }
                                    if inside {
                                        acc[(bi * c + ci) * imgSize + off] += b[((bi * c + ci) * kprod + k) * l + p].asDouble
                                    }
                                }
                            }
                        }
                    }
                }
                let y = Tensor.uninitialized(T.dtype, shape: outShape)
                let yp = y.mutablePointer(T.self)
                for i in 0..<acc.count { yp[i] = T(fromDouble: acc[i]) }
                return y
            }
        }
        return [try dispatchNumeric(x.dtype, V(x: x, outShape: outShape, n: n, c: c, kprod: kprod, l: l, nd: nd, block: block,
                                               blocksPer: blocksPer, dil: dil, pad: pad, str: str, image: image,
                                               imgSize: imgSize, imgStrides: imgStrides))]
    }
}
