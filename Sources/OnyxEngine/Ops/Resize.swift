import OnyxTensor

// Resize (opsets 10, 11, 13, 18, 19) and Upsample (7, 9): separable interpolation, one axis at a
// time in double precision, following the ONNX reference (window of taps around the source
// coordinate, edge-clamped, optional exclude_outside / antialias / tf_crop_and_resize extrapolation).

extension ShapeOps {
    static func registerResize(_ t: inout OperatorTable) {
        t.add("Resize", since: 10) { try ResizeOp($0, legacy: true) }
        t.add("Resize", since: 11) { try ResizeOp($0, legacy: false) }
        t.add("Upsample", since: 7) { try ResizeOp(upsample: $0) }
    }
}

/// Elements of a numeric tensor as Doubles.
func doublesOf(_ t: Tensor) throws -> [Double] {
    struct V: NumericVisitor {
        let t: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> [Double] { try t.withBuffer(of: T.self) { $0.map { $0.asDouble } } }
    }
    return try dispatchNumeric(t.dtype, V(t: t))
}

/// A tensor of `dt` from Doubles; integer types round half to even and saturate (numpy-style cast back).
func tensorFromDoubles(_ v: [Double], _ dt: DType, shape: [Int]) throws -> Tensor {
    struct V: NumericVisitor {
        let v: [Double], shape: [Int], isInt: Bool
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            let y = Tensor.uninitialized(T.dtype, shape: shape)
            let p = y.mutablePointer(T.self)
            for i in 0..<v.count { p[i] = T(fromDouble: isInt ? v[i].rounded(.toNearestOrEven) : v[i]) }
            return y
        }
    }
    return try dispatchNumeric(dt, V(v: v, shape: shape, isInt: dt.isInteger))
}

struct ResizeOp: TensorKernel {
    enum Mode: String { case nearest, linear, cubic }
    let mode: Mode
    let coord: String
    let nearestMode: String        // round_prefer_floor, round_prefer_ceil, floor, ceil, or "simple" (opset 10)
    let cubicA: Double
    let excludeOutside: Bool
    let extrapolation: Double
    let antialias: Bool
    let axes: [Int]?
    let keepAspect: String
    let legacy: Bool               // inputs (X, scales) instead of (X, roi, scales, sizes)
    let attrScales: [Float]?       // Upsample-7

    static let coordModes: Set<String> = ["half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners",
                                          "asymmetric", "tf_half_pixel_for_nn", "tf_crop_and_resize"]

    init(_ c: NodeContext, legacy: Bool) throws {
        let m = try c.string("mode", "nearest")
        guard let md = Mode(rawValue: m) else { throw KernelError("unknown mode '\(m)'") }
        mode = md
        self.legacy = legacy
        attrScales = nil
        if legacy {
            guard mode != .cubic else { throw KernelError("mode 'cubic' needs opset 11") }
            coord = "asymmetric"; nearestMode = "simple"; cubicA = -0.75; excludeOutside = false
            extrapolation = 0; antialias = false; axes = nil; keepAspect = "stretch"
            return
        }
        coord = try c.string("coordinate_transformation_mode", "half_pixel")
        guard ResizeOp.coordModes.contains(coord) else { throw KernelError("unknown coordinate_transformation_mode '\(coord)'") }
        nearestMode = try c.string("nearest_mode", "round_prefer_floor")
        guard ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"].contains(nearestMode) else {
            throw KernelError("unknown nearest_mode '\(nearestMode)'")
        }
        cubicA = Double(try c.float("cubic_coeff_a", -0.75))
        excludeOutside = try c.int("exclude_outside", 0) != 0
        extrapolation = Double(try c.float("extrapolation_value", 0))
        antialias = try c.int("antialias", 0) != 0 && mode != .nearest
        axes = try c.ints("axes")
        keepAspect = try c.string("keep_aspect_ratio_policy", "stretch")
        guard ["stretch", "not_larger", "not_smaller"].contains(keepAspect) else {
            throw KernelError("unknown keep_aspect_ratio_policy '\(keepAspect)'")
        }
    }

    init(upsample c: NodeContext) throws {
        let m = try c.string("mode", "nearest")
        guard let md = Mode(rawValue: m), md != .cubic else { throw KernelError("unknown mode '\(m)'") }
        mode = md
        legacy = true
        attrScales = c.opset < 9 ? try c.floats("scales") : nil
        if c.opset < 9 && attrScales == nil { throw KernelError("attribute 'scales' is required") }
        coord = "asymmetric"; nearestMode = "simple"; cubicA = -0.75; excludeOutside = false
        extrapolation = 0; antialias = false; axes = nil; keepAspect = "stretch"
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        let r = x.rank
        let ax = try (axes ?? Array(0..<r)).map { try normalizeAxis($0, rank: r, name: "axes") }
        guard Set(ax).count == ax.count else { throw KernelError("axes \(ax) has duplicates") }
        var scalesIn: [Double]? = nil, sizesIn: [Int]? = nil, roiIn: [Double]? = nil
        if let s = attrScales { scalesIn = s.map { Double($0) } }
        else if legacy { scalesIn = try doublesOf(try inputs.required(1, "scales")) }
        else {
            if let t = inputs.optional(1), t.count > 0 { roiIn = try doublesOf(t) }
            if let t = inputs.optional(2), t.count > 0 { scalesIn = try doublesOf(t) }
            if let t = inputs.optional(3), t.count > 0 { sizesIn = try indexValues(t, "sizes") }
        }
        var scales = [Double](repeating: 1, count: r)
        var outShape = x.shape
        if let sizes = sizesIn {
            guard scalesIn == nil else { throw KernelError("only one of scales and sizes may be given") }
            guard sizes.count == ax.count else { throw KernelError("sizes must have \(ax.count) entries") }
            for (i, a) in ax.enumerated() {
                guard sizes[i] >= 0, x.shape[a] > 0 else { throw KernelError("invalid size \(sizes[i]) for axis \(a)") }
                scales[a] = Double(sizes[i]) / Double(x.shape[a]); outShape[a] = sizes[i]
            }
            if keepAspect != "stretch" {
                let sel = ax.map { scales[$0] }
                let s = (keepAspect == "not_larger" ? sel.min() : sel.max()) ?? 1
                for a in ax {
                    let o = s * Double(x.shape[a]) + 0.5
                    guard o < Double(1 << 40) else { throw KernelError("output too large") }
                    scales[a] = s; outShape[a] = Int(o)
                }
            }
        } else if let sc = scalesIn {
            guard sc.count == ax.count else { throw KernelError("scales must have \(ax.count) entries, got \(sc.count)") }
            for (i, a) in ax.enumerated() {
                guard sc[i] > 0, sc[i].isFinite else { throw KernelError("scale \(sc[i]) must be positive") }
                scales[a] = sc[i]
                let o = sc[i] * Double(x.shape[a])
                guard o < Double(1 << 32) else { throw KernelError("output too large") }
                outShape[a] = Int(o)
            }
        } else { throw KernelError("one of scales and sizes is required") }
        _ = try checkedShape(outShape)
        var roi = [Double](repeating: 0, count: r) + [Double](repeating: 1, count: r)
        if let ri = roiIn, coord == "tf_crop_and_resize" {
            guard ri.count == 2 * ax.count else { throw KernelError("roi must have \(2 * ax.count) entries") }
            for (i, a) in ax.enumerated() { roi[a] = ri[i]; roi[a + r] = ri[i + ax.count] }
        }
        var data = try doublesOf(x)
        var shape = x.shape
        for a in ax {
            let inW = shape[a], outW = outShape[a]
            if abs(scales[a] - 1) < 1e-9 && outW == inW && abs(roi[a]) < 1e-9 && abs(roi[a + r] - 1) < 1e-9 { continue }
            data = try resizeAxis(data, shape: shape, axis: a, outW: outW, scale: scales[a], roi: (roi[a], roi[a + r]))
            shape[a] = outW
        }
        return [try tensorFromDoubles(data, x.dtype, shape: shape)]
    }

    /// Tap coefficients for a fractional position `ratio` in (0, 1].
    func coeffs(_ ratio: Double, _ scale: Double) -> [Double] {
        switch mode {
        case .nearest:
            if ratio == ratio.rounded() { return [0, 1] }
            switch nearestMode {
            case "round_prefer_ceil": return ratio < 0.5 ? [1, 0] : [0, 1]
            case "floor": return [1, 0]
            case "ceil": return [0, 1]
            case "simple": return scale < 1 ? [0, 1] : [1, 0]
            default: return ratio <= 0.5 ? [1, 0] : [0, 1]
            }
        case .linear:
            if !antialias { return [1 - ratio, ratio] }
            let s = min(scale, 1)
            let start = Int((-1 / s).rounded(.down)) + 1
            let n = 2 - 2 * start
            var c = (0..<n).map { j in max(0, min(1, 1 - abs((Double(start + j) - ratio) * s))) }
            let sum = c.reduce(0, +)
            if sum != 0 { c = c.map { $0 / sum } }
            return c
        case .cubic:
            let A = cubicA
            if !antialias {
                let t = ratio, u = 1 - ratio
                return [((A * (t + 1) - 5 * A) * (t + 1) + 8 * A) * (t + 1) - 4 * A,
                        ((A + 2) * t - (A + 3)) * t * t + 1,
                        ((A + 2) * u - (A + 3)) * u * u + 1,
                        ((A * (u + 1) - 5 * A) * (u + 1) + 8 * A) * (u + 1) - 4 * A]
            }
            let s = min(scale, 1)
            func k(_ v: Double) -> Double {
                let x = abs(v), x2 = x * x, x3 = x2 * x
                if x <= 1 { return (A + 2) * x3 - (A + 3) * x2 + 1 }
                if x < 2 { return A * x3 - 5 * A * x2 + 8 * A * x - 4 * A }
                return 0
            }
            let iStart = Int((-2 / s).rounded(.down)) + 1
            let iEnd = 2 - iStart
            var c = (iStart..<iEnd).map { k(s * (Double($0) - ratio)) }
            let sum = c.reduce(0, +)
            if sum != 0 { c = c.map { $0 / sum } }
            return c
        }
    }

    /// Source coordinate of output index `y`, and whether it is extrapolated (tf_crop_and_resize).
    func sourceCoordinate(_ y: Double, inW: Int, outW: Int, scale: Double, roi: (Double, Double)) -> (Double, Bool) {
        let fin = Double(inW), fout = scale * fin
        switch coord {
        case "align_corners": return (fout == 1 ? 0 : y * (fin - 1) / (fout - 1), false)
        case "asymmetric": return (y / scale, false)
        case "tf_half_pixel_for_nn": return ((y + 0.5) / scale, false)
        case "tf_crop_and_resize":
            var v = fout == 1 ? (roi.1 - roi.0) * (fin - 1) / 2 : y * (roi.1 - roi.0) * (fin - 1) / (fout - 1)
            v += roi.0 * (fin - 1)
            return (v, v < 0 || v > fin - 1)
        case "pytorch_half_pixel": return (fout == 1 ? -0.5 : (y + 0.5) / scale - 0.5, false)
        case "half_pixel_symmetric":
            let adjustment = Double(outW) / fout
            let offset = fin / 2 * (1 - adjustment)
            return (offset + (y + 0.5) / scale - 0.5, false)
        default: return ((y + 0.5) / scale - 0.5, false)
        }
    }

    func resizeAxis(_ data: [Double], shape: [Int], axis: Int, outW: Int, scale: Double, roi: (Double, Double)) throws -> [Double] {
        let inW = shape[axis]
        if antialias && scale < 1e-4 { throw KernelError("scale \(scale) is too small for antialiasing") }
        let outer = dimProduct(shape, 0..<axis), inner = dimProduct(shape, (axis + 1)..<shape.count)
        var out = [Double](repeating: 0, count: outer * outW * inner)
        if out.isEmpty { return out }
        guard inW > 0 else { throw KernelError("cannot resize an empty axis to \(outW)") }
        // Per output position: taps (index, weight) or extrapolation.
        var taps: [[(Int, Double)]] = []
        var extrapolated: [Bool] = []
        for o in 0..<outW {
            let (xo, ext) = sourceCoordinate(Double(o), inW: inW, outW: outW, scale: scale, roi: roi)
            guard xo.isFinite, abs(xo) < 1e15 else { throw KernelError("invalid source coordinate") }
            let xi = xo.rounded(.down)
            let ratio = xo == xi ? 1.0 : xo - xi
            var c = coeffs(ratio, scale)
            let n = c.count
            let pw = (n + 1) / 2
            let xp = xo + Double(pw)
            let p = Int(xp.rounded(.down))
            let frac = xp - xp.rounded(.down)
            let offset: Int
            if n % 2 == 0 { offset = frac == 0 ? -(n / 2) : -(n / 2) + 1 }
            else { let base = -((n - 1) / 2); offset = frac <= 0.5 ? base : base + 1 }
            let start = p + offset - pw
            if excludeOutside {
                for j in 0..<n where start + j < 0 || start + j >= inW { c[j] = 0 }
                let s = c.reduce(0, +)
                if s != 0 { c = c.map { $0 / s } }
            }
            taps.append((0..<n).map { j in (min(max(start + j, 0), inW - 1), c[j]) })
            extrapolated.append(ext)
        }
        for ob in 0..<outer {
            let ib = ob * inW * inner, obase = ob * outW * inner
            for o in 0..<outW {
                let dst = obase + o * inner
                if extrapolated[o] {
                    for i in 0..<inner { out[dst + i] = extrapolation }
                    continue
                }
                for (j, w) in taps[o] where w != 0 {
                    let src = ib + j * inner
                    for i in 0..<inner { out[dst + i] += w * data[src + i] }
                }
            }
        }
        return out
    }
}
