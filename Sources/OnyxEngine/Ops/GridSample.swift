import OnyxTensor

// GridSample (opset 16: bilinear/nearest/bicubic 2-D; 20+: linear/nearest/cubic N-D) and AffineGrid.

extension ShapeOps {
    static func registerGrid(_ t: inout OperatorTable) {
        t.add("GridSample") { try GridSampleOp($0) }
        t.add("AffineGrid") { try AffineGridOp($0) }
    }
}

struct GridSampleOp: TensorKernel {
    enum Mode { case nearest, linear, cubic }
    enum Padding: String { case zeros, border, reflection }
    let mode: Mode, padding: Padding, alignCorners: Bool
    init(_ c: NodeContext) throws {
        let m = try c.string("mode", c.opset < 20 ? "bilinear" : "linear")
        switch m {
        case "nearest": mode = .nearest
        case "linear", "bilinear": mode = .linear
        case "cubic", "bicubic": mode = .cubic
        default: throw KernelError("unknown mode '\(m)'")
        }
        let p = try c.string("padding_mode", "zeros")
        guard let pm = Padding(rawValue: p) else { throw KernelError("unknown padding_mode '\(p)'") }
        padding = pm
        alignCorners = try c.int("align_corners", 0) != 0
    }

    static func reflect(_ x: Double, _ lo: Double, _ hi: Double) -> Double {
        let rng = hi - lo
        if rng <= 0 { return lo }
        if x < lo {
            let dx = lo - x, n = (dx / rng).rounded(.towardZero), r = dx - n * rng
            return Int(n) % 2 == 0 ? lo + r : hi - r
        }
        if x > hi {
            let dx = x - hi, n = (dx / rng).rounded(.towardZero), r = dx - n * rng
            return Int(n) % 2 == 0 ? hi - r : lo + r
        }
        return x
    }

    static func cubic(_ t: Double) -> [Double] {
        let A = -0.75, x = abs(t)
        return [((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A,
                ((A + 2) * x - (A + 3)) * x * x + 1,
                ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1,
                ((A * (2 - x) - 5 * A) * (2 - x) + 8 * A) * (2 - x) - 4 * A]
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X"), grid = try inputs.required(1, "grid")
        let nd = x.rank - 2
        guard nd >= 1, grid.rank == x.rank, grid.shape[0] == x.shape[0], grid.shape[grid.rank - 1] == nd else {
            throw KernelError("X \(x.shape) and grid \(grid.shape) are incompatible")
        }
        let (n, c) = (x.shape[0], x.shape[1])
        let dims = Array(x.shape[2...])
        let outSpatial = Array(grid.shape[1..<(grid.rank - 1)])
        let outShape = [n, c] + outSpatial
        let xs = try doublesOf(x), gs = try doublesOf(grid)
        let inSize = dimProduct(dims, 0..<nd), outSize = dimProduct(outSpatial, 0..<outSpatial.count)
        let st = Broadcast.strides(dims)
        var lo = [Double](repeating: 0, count: nd), hi = [Double](repeating: 0, count: nd)
        for i in 0..<nd {
            lo[i] = alignCorners ? 0 : -0.5
            hi[i] = alignCorners ? Double(dims[i] - 1) : Double(dims[i]) - 0.5
        }
        var out = [Double](repeating: 0, count: n * c * outSize)
        var coord = [Double](repeating: 0, count: nd)
        // Index after padding handling, or nil for a zero pixel.
        func fetchIndex(_ i: Int, _ d: Int) -> Int? {
            switch padding {
            case .zeros: return i >= 0 && i < dims[d] ? i : nil
            case .border: return min(max(i, 0), dims[d] - 1)
            case .reflection:
                let r = Int(GridSampleOp.reflect(Double(i), lo[d], hi[d]))
                return min(max(r, 0), dims[d] - 1)
            }
        }
        let taps = mode == .nearest ? 1 : (mode == .linear ? 2 : 4)
        var tapIdx = [[Int?]](repeating: [], count: nd), tapW = [[Double]](repeating: [], count: nd)
        for b in 0..<n {
            for p in 0..<outSize {
                let g = (b * outSize + p) * nd
                for i in 0..<nd {
                    let v = gs[g + (nd - 1 - i)]
                    let len = Double(dims[i])
                    var u = alignCorners ? (v + 1) / 2 * (len - 1) : ((v + 1) * len - 1) / 2
                    if mode == .nearest { u = u.rounded(.toNearestOrEven) }
                    if u < lo[i] || u > hi[i] {
                        if padding == .border { u = min(max(u, 0), len - 1) }
                        else if padding == .reflection { u = GridSampleOp.reflect(u, lo[i], hi[i]) }
                    }
                    coord[i] = u
                }
                guard coord.allSatisfy({ $0.isFinite && abs($0) < 1e12 }) else {
                    for ch in 0..<c { out[(b * c + ch) * outSize + p] = 0 }
                    continue
                }
                for i in 0..<nd {
                    switch mode {
                    case .nearest:
                        tapIdx[i] = [fetchIndex(Int(coord[i]), i)]; tapW[i] = [1]
                    case .linear:
                        let f = coord[i].rounded(.down), i0 = Int(f)
                        tapIdx[i] = [fetchIndex(i0, i), fetchIndex(i0 + 1, i)]
                        tapW[i] = [1 - (coord[i] - f), coord[i] - f]
                    case .cubic:
                        let f = coord[i].rounded(.down), i0 = Int(f)
                        tapIdx[i] = [fetchIndex(i0 - 1, i), fetchIndex(i0, i), fetchIndex(i0 + 1, i), fetchIndex(i0 + 2, i)]
                        tapW[i] = GridSampleOp.cubic(coord[i] - f)
                    }
                }
                // Tensor-product of taps over all spatial dims.
                var combos: [(Int, Double)] = []
                var k = [Int](repeating: 0, count: nd)
                var total = 1
                for _ in 0..<nd { total *= taps }
                for _ in 0..<total {
                    var off = 0, w = 1.0, valid = true
                    for i in 0..<nd {
                        w *= tapW[i][k[i]]
                        if let j = tapIdx[i][k[i]] { off += j * st[i] } else { valid = false }
                    }
                    if valid { combos.append((off, w)) }
                    var a = nd - 1
                    while a >= 0 { k[a] += 1; if k[a] < taps { break }; k[a] = 0; a -= 1 }
                }
                for ch in 0..<c {
                    let base = (b * c + ch) * inSize
                    var s = 0.0
                    for (off, w) in combos { s += w * xs[base + off] }
                    out[(b * c + ch) * outSize + p] = s
                }
            }
        }
        return [try tensorFromDoubles(out, x.dtype, shape: outShape)]
    }
}

struct AffineGridOp: TensorKernel {
    let alignCorners: Bool
    init(_ c: NodeContext) throws { alignCorners = try c.int("align_corners", 0) != 0 }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let theta = try inputs.required(0, "theta")
        let size = try indexValues(try inputs.required(1, "size"), "size")
        guard size.count == 4 || size.count == 5 else { throw KernelError("size must have 4 or 5 entries") }
        let nd = size.count - 2
        let n = size[0]
        let spatial = try checkedShape(Array(size[2...]))
        guard theta.shape == [n, nd, nd + 1] else { throw KernelError("theta must have shape [\(n), \(nd), \(nd + 1)]") }
        let th = try doublesOf(theta)
        // Base coordinates per spatial dim (dims in D,H,W order; output components are x, y, z).
        let lin: [[Double]] = spatial.map { d in
            (0..<d).map { i in
                if alignCorners { return d == 1 ? -1 : -1 + Double(i) * 2 / Double(d - 1) }
                let step = 2 / Double(d)
                return -1 + step / 2 + Double(i) * step
            }
        }
        let count = dimProduct(spatial, 0..<nd)
        var out = [Double](repeating: 0, count: n * count * nd)
        var base = [Double](repeating: 1, count: nd + 1)
        for b in 0..<n {
            try forEachCoordinate(spatial) { p, idx in
                for j in 0..<nd { base[j] = lin[nd - 1 - j][idx[nd - 1 - j]] }  // x from the last dim
                base[nd] = 1
                for r in 0..<nd {
                    var s = 0.0
                    for k in 0...nd { s += th[(b * nd + r) * (nd + 1) + k] * base[k] }
                    out[(b * count + p) * nd + r] = s
                }
            }
        }
        return [try tensorFromDoubles(out, theta.dtype, shape: [n] + spatial + [nd])]
    }
}
