import OnyxTensor

// Pad (constant/reflect/edge/wrap; pads as attributes before opset 11, inputs after; axes from 18)
// and CenterCropPad.

extension ShapeOps {
    static func registerPad(_ t: inout OperatorTable) {
        t.add("Pad", since: 1) { try PadOp($0) }
        t.add("CenterCropPad") { try CenterCropPadOp($0) }
    }
}

/// Fills the fresh `y` so that `y[o] = x[maps[0][o0], maps[1][o1], ...]`, or `fill[0]` where any map entry is -1.
func remapCopy(_ x: Tensor, maps: [[Int]], fill: Tensor, into y: Tensor) throws {
    struct V: ElementMoveVisitor {
        let x: Tensor, y: Tensor, maps: [[Int]], fill: Tensor
        func visit<T>(_: T.Type) throws {
            let fv: T = try withMovePointers(fill, y, T.self) { f, _ in f[0] }
            try withMovePointers(x, y, T.self) { s, d in
                let r = maps.count
                let st = Broadcast.strides(x.shape)
                let outShape = maps.map(\.count)
                if r == 0 { d[0] = s[0]; return }
                let inner = outShape[r - 1], lastMap = maps[r - 1]
                let outer = Tensor.count(outShape) / max(inner, 1)
                if inner == 0 { return }
                var idx = [Int](repeating: 0, count: r)
                var o = 0
                for _ in 0..<outer {
                    var base = 0, valid = true
                    for a in 0..<(r - 1) {
                        let m = maps[a][idx[a]]
                        if m < 0 { valid = false; break }
                        base += m * st[a]
                    }
                    if valid {
                        for k in 0..<inner { let m = lastMap[k]; d[o + k] = m < 0 ? fv : s[base + m] }
                    } else {
                        for k in 0..<inner { d[o + k] = fv }
                    }
                    o += inner
                    var a = r - 2
                    while a >= 0 { idx[a] += 1; if idx[a] < outShape[a] { break }; idx[a] = 0; a -= 1 }
                }
            }
        }
    }
    if Tensor.count(maps.map(\.count)) == 0 { return }
    try dispatchStorage(x.dtype, V(x: x, y: y, maps: maps, fill: fill))
}

enum PadMode: String { case constant, reflect, edge, wrap }

/// The source index for output coordinate `o` of an axis of size `d` padded by `before`.
func padSource(_ o: Int, before: Int, dim d: Int, mode: PadMode) throws -> Int {
    let i = o - before
    if i >= 0 && i < d { return i }
    switch mode {
    case .constant: return -1
    case .edge: guard d > 0 else { throw KernelError("cannot edge-pad an empty axis") }; return i < 0 ? 0 : d - 1
    case .wrap: guard d > 0 else { throw KernelError("cannot wrap-pad an empty axis") }; return ((i % d) + d) % d
    case .reflect:
        guard d > 0 else { throw KernelError("cannot reflect-pad an empty axis") }
        if d == 1 { return 0 }
        let p = 2 * (d - 1)
        var m = ((i % p) + p) % p
        if m >= d { m = p - m }
        return m
    }
}

struct PadOp: TensorKernel {
    let mode: PadMode
    let attrPads: [Int]?
    let attrValue: Float
    let opset: Int
    init(_ c: NodeContext) throws {
        let m = try c.string("mode", "constant")
        guard let pm = PadMode(rawValue: m) else { throw KernelError("unknown mode '\(m)'") }
        mode = pm
        opset = c.opset
        if c.opset < 11 {
            guard let p = try c.ints("pads") ?? c.ints("paddings") else { throw KernelError("attribute 'pads' is required") }
            attrPads = p
        } else { attrPads = nil }
        attrValue = try c.float("value", 0)
    }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let r = x.rank
        var pads = try attrPads ?? indexValues(try inputs.required(1, "pads"), "pads")
        var fill = Tensor(zeros: x.dtype, shape: [])
        if attrPads != nil {
            if attrValue != 0 { fill = try scalarOf(Double(attrValue), x.dtype) }
        } else if let v = inputs.optional(2), v.count > 0 {
            guard v.dtype == x.dtype else { throw KernelError("constant_value type \(v.dtype) differs from data type \(x.dtype)") }
            fill = v
        }
        if let at = inputs.optional(3) {
            let axes = try indexValues(at, "axes").map { try normalizeAxis($0, rank: r, name: "axes") }
            guard pads.count == 2 * axes.count else { throw KernelError("pads must have \(2 * axes.count) entries") }
            var full = [Int](repeating: 0, count: 2 * r)
            for (i, a) in axes.enumerated() { full[a] = pads[i]; full[a + r] = pads[i + axes.count] }
            pads = full
        }
        guard pads.count == 2 * r else { throw KernelError("pads must have \(2 * r) entries, got \(pads.count)") }
        guard pads.allSatisfy({ abs($0) < (1 << 40) }) else { throw KernelError("pads \(pads) are too large") }
        var maps: [[Int]] = []
        for a in 0..<r {
            let n = x.shape[a] + pads[a] + pads[a + r]
            guard n >= 0, n < (1 << 32) else { throw KernelError("padded dimension \(n) is invalid") }
            maps.append(try (0..<n).map { try padSource($0, before: pads[a], dim: x.shape[a], mode: mode) })
        }
        let outShape = try checkedShape(maps.map(\.count))
        let y = Tensor.uninitialized(x.dtype, shape: outShape)
        try remapCopy(x, maps: maps, fill: fill, into: y)
        return [y]
    }
}

/// A rank-0 tensor of `dt` holding `v` (numeric dtypes and bool).
func scalarOf(_ v: Double, _ dt: DType) throws -> Tensor {
    struct V: NumericVisitor {
        let v: Double
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor { Tensor(scalar: T(fromDouble: v)) }
    }
    if dt == .bool { return Tensor(scalar: v != 0) }
    return try dispatchNumeric(dt, V(v: v))
}

struct CenterCropPadOp: TensorKernel {
    let axes: [Int]?
    init(_ c: NodeContext) throws { axes = try c.ints("axes") }
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input_data")
        let shape = try indexValues(try inputs.required(1, "shape"), "shape")
        let r = x.rank
        let ax = try (axes ?? Array(0..<r)).map { try normalizeAxis($0, rank: r, name: "axes") }
        guard shape.count == ax.count else { throw KernelError("shape must have \(ax.count) entries") }
        var target = x.shape
        for (i, a) in ax.enumerated() { target[a] = shape[i] }
        _ = try checkedShape(target)
        var maps: [[Int]] = []
        for a in 0..<r {
            let d = x.shape[a], t = target[a]
            if t <= d {
                let start = (d - t) / 2
                maps.append((0..<t).map { start + $0 })
            } else {
                let before = (t - d) / 2
                maps.append((0..<t).map { o in let i = o - before; return i >= 0 && i < d ? i : -1 })
            }
        }
        let y = Tensor.uninitialized(x.dtype, shape: target)
        try remapCopy(x, maps: maps, fill: Tensor(zeros: x.dtype, shape: []), into: y)
        return [y]
    }
}
