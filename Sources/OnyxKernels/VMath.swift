import COnyxKernels

/// Vectorised float32 math (`Sources/COnyxKernels/vmath.c`): AVX2+FMA on x86-64, NEON on arm64, chosen at run
/// time, libm otherwise (`ONYX_ISA=scalar` forces libm). The measured maximum errors against double-precision libm
/// are stated in vmath.c next to each function and checked by `VMathTests`.
public enum VMath {
    /// An elementwise function with a vector implementation.
    public enum Unary: Sendable, Equatable {
        case exp, tanh, erf, sigmoid
        /// x · sigmoid(alpha · x) (SiLU when alpha = 1).
        case swish(alpha: Float)
        /// 0.5 x (1 + erf(x / √2)).
        case geluErf
        /// 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
        case geluTanh
    }

    /// The path in use: "avx2", "neon" or "scalar".
    public static var isa: String { String(cString: onyx_vmath_isa()) }

    /// y[i] = f(x[i]) for i < count (`y` may equal `x`).
    public static func apply(_ f: Unary, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        let n = count
        switch f {
        case .exp: onyx_vexp(x, y, n)
        case .tanh: onyx_vtanh(x, y, n)
        case .erf: onyx_verf(x, y, n)
        case .sigmoid: onyx_vsigmoid(x, y, n)
        case .swish(let alpha): onyx_vswish(x, y, n, alpha)
        case .geluErf: onyx_vgelu_erf(x, y, n)
        case .geluTanh: onyx_vgelu_tanh(x, y, n)
        }
    }

    /// `f` over an array (convenience for tests and tools).
    public static func apply(_ f: Unary, _ x: [Float]) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { yb in
                if let xp = xb.baseAddress, let yp = yb.baseAddress { apply(f, xp, yp, count: x.count) }
            }
        }
        return y
    }

    /// A reduction of one contiguous run (or folded into per-column accumulators).
    public enum Reduction: Int32, Sendable {
        case sum = 0, max = 1, min = 2, sumSquare = 3, sumAbs = 4
    }

    /// The reduction of x[0..<count]; max / min are NaN when any element is NaN.
    public static func reduce(_ kind: Reduction, _ x: UnsafePointer<Float>, count: Int) -> Float {
        onyx_vreduce(x, max(count, 0), kind.rawValue)
    }

    /// acc[i] = acc[i] ⊕ x[i] for i < count.
    public static func reduce(_ kind: Reduction, into acc: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        guard count > 0 else { return }
        onyx_vreduce_into(acc, x, count, kind.rawValue)
    }

    /// Softmax (or LogSoftmax) of `rows` contiguous rows of `length` elements.
    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, length: Int,
                                   log: Bool = false) {
        guard rows > 0, length > 0 else { return }
        onyx_softmax_rows(x, y, rows, length, log ? 1 : 0)
    }

    /// LayerNormalization (or RMSNormalization when `rms`) of `rows` contiguous rows of `length` elements with
    /// per-column `scale` and optional `bias`; per-row mean and 1/σ are written to `mean` / `invStdDev` when given.
    public static func layerNormRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, length: Int,
                                     scale: UnsafePointer<Float>, bias: UnsafePointer<Float>?, epsilon: Float, rms: Bool,
                                     mean: UnsafeMutablePointer<Float>?, invStdDev: UnsafeMutablePointer<Float>?) {
        guard rows > 0 else { return }
        onyx_layernorm_rows(x, y, rows, length, scale, bias, epsilon, rms ? 1 : 0, mean, invStdDev)
    }
}
