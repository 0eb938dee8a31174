import Foundation
import OnyxTensor

/// Signal processing: DFT, STFT, Hann/Hamming/Blackman windows, MelWeightMatrix. Computed in double precision.
enum SignalOps {
    static func register(_ t: inout OperatorTable) {
        t.add("DFT", since: 17) { c in try DFTOp(c, axisFromInput: false) }
        t.add("DFT", since: 20) { c in try DFTOp(c, axisFromInput: true) }
        t.add("STFT", since: 17) { try STFTOp($0) }
        t.add("HannWindow", since: 17) { try WindowOp($0, kind: .hann) }
        t.add("HammingWindow", since: 17) { try WindowOp($0, kind: .hamming) }
        t.add("BlackmanWindow", since: 17) { try WindowOp($0, kind: .blackman) }
        t.add("MelWeightMatrix", since: 17) { try MelWeightMatrixOp($0) }
    }
}

/// Elements of a float tensor as Double.
func signalDoubles(_ t: Tensor, _ name: String) throws -> [Double] {
    switch t.dtype {
    case .float32: return try t.toArray(Float.self).map { Double($0) }
    case .float64: return try t.toArray(Double.self)
    case .float16: return try t.toArray(Float16.self).map { Double(Float($0)) }
    case .bfloat16: return try t.toArray(BFloat16.self).map { Double($0.float) }
    default: throw KernelError("input '\(name)' must be a float tensor, got \(t.dtype)")
    }
}

/// A float tensor of `dtype` from Double values (integer dtypes round toward zero, like a cast).
func signalTensor(_ v: [Double], shape: [Int], dtype: DType) throws -> Tensor {
    struct Fill: NumericVisitor {
        let v: [Double], shape: [Int]
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor {
            qmTensor(shape, v.map { T(fromDouble: $0) })
        }
    }
    return try dispatchNumeric(dtype, Fill(v: v, shape: shape))
}

/// Scalar integer input value.
func signalScalarInt(_ t: Tensor, _ name: String) throws -> Int {
    guard t.count == 1, t.dtype.isInteger else { throw KernelError("input '\(name)' must be an integer scalar") }
    return t.intValues()[0]
}

/// Naive DFT along one axis of a complex signal laid out [outer, n, inner] (re/im arrays).
/// Returns spectra laid out [outer, nOut, inner]; `sign` is -1 forward, +1 inverse; `scale` multiplies the result.
func signalDFT(re: [Double], im: [Double], outer: Int, n: Int, inner: Int,
               length: Int, nOut: Int, sign: Double, scale: Double) -> ([Double], [Double]) {
    var cosT = [Double](repeating: 0, count: length), sinT = [Double](repeating: 0, count: length)
    for j in 0..<length {
        let ang = 2 * Double.pi * Double(j) / Double(length)
        cosT[j] = cos(ang); sinT[j] = sign * sin(ang)
    }
    let used = min(n, length)
    var oRe = [Double](repeating: 0, count: outer * nOut * inner), oIm = oRe
    for o in 0..<outer {
        for i in 0..<inner {
            for k in 0..<nOut {
                var sr = 0.0, si = 0.0
                for t in 0..<used {
                    let src = (o * n + t) * inner + i
                    let idx = (k * t) % length
                    let c = cosT[idx], s = sinT[idx], xr = re[src], xi = im[src]
                    sr += xr * c - xi * s
                    si += xr * s + xi * c
                }
                let dst = (o * nOut + k) * inner + i
                oRe[dst] = sr * scale; oIm[dst] = si * scale
            }
        }
    }
    return (oRe, oIm)
}

/// Splits a [..., 1 or 2] tensor into real and imaginary parts.
func signalComplex(_ x: Tensor, _ name: String) throws -> (re: [Double], im: [Double]) {
    guard let c = x.shape.last, c == 1 || c == 2 else {
        throw KernelError("input '\(name)' must have a last dimension of 1 (real) or 2 (complex), got shape \(x.shape)")
    }
    let v = try signalDoubles(x, name)
    if c == 1 { return (v, [Double](repeating: 0, count: v.count)) }
    let n = v.count / 2
    var re = [Double](repeating: 0, count: n), im = re
    for i in 0..<n { re[i] = v[2 * i]; im[i] = v[2 * i + 1] }
    return (re, im)
}

func signalInterleave(_ re: [Double], _ im: [Double]) -> [Double] {
    var out = [Double](repeating: 0, count: re.count * 2)
    for i in 0..<re.count { out[2 * i] = re[i]; out[2 * i + 1] = im[i] }
    return out
}

struct DFTOp: TensorKernel {
    let axisFromInput: Bool
    let axisAttr: Int
    let inverse: Bool, onesided: Bool

    init(_ c: NodeContext, axisFromInput: Bool) throws {
        self.axisFromInput = axisFromInput
        axisAttr = try c.int("axis", 1)
        inverse = try c.int("inverse", 0) != 0
        onesided = try c.int("onesided", 0) != 0
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "input")
        let rank = x.rank
        guard rank >= 2 else { throw KernelError("input must have rank >= 2, got \(rank)") }
        var axis = axisAttr
        if axisFromInput { axis = try inputs.optional(2).map { try signalScalarInt($0, "axis") } ?? -2 }
        let a = try normalizeAxis(axis, rank: rank)
        guard a < rank - 1 else { throw KernelError("axis \(axis) must not be the last (complex) dimension") }
        let n = x.shape[a]
        var length = n
        if let l = inputs.optional(1) { length = try signalScalarInt(l, "dft_length") }
        else if inverse && onesided { length = 2 * (n - 1) }
        guard length >= 1 else { throw KernelError("dft_length must be positive, got \(length)") }
        let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)..<(rank - 1)].reduce(1, *)
        var (re, im) = try signalComplex(x, "input")
        var outShape = x.shape
        if inverse && onesided {
            // irfft: rebuild the Hermitian full spectrum from the first length/2+1 bins, output is real.
            let half = length / 2 + 1
            var fr = [Double](repeating: 0, count: outer * length * inner), fi = fr
            for o in 0..<outer {
                for i in 0..<inner {
                    for k in 0..<length {
                        let (src, conj) = k < half ? (k, false) : (length - k, true)
                        guard src < n else { continue }
                        let s = (o * n + src) * inner + i, d = (o * length + k) * inner + i
                        fr[d] = re[s]; fi[d] = conj ? -im[s] : im[s]
                    }
                }
            }
            let (r, _) = signalDFT(re: fr, im: fi, outer: outer, n: length, inner: inner, length: length,
                                   nOut: length, sign: 1, scale: 1 / Double(length))
            outShape[a] = length; outShape[rank - 1] = 1
            return [try signalTensor(r, shape: outShape, dtype: x.dtype)]
        }
        let nOut = (!inverse && onesided) ? length / 2 + 1 : length
        (re, im) = signalDFT(re: re, im: im, outer: outer, n: n, inner: inner, length: length, nOut: nOut,
                             sign: inverse ? 1 : -1, scale: inverse ? 1 / Double(length) : 1)
        outShape[a] = nOut; outShape[rank - 1] = 2
        return [try signalTensor(signalInterleave(re, im), shape: outShape, dtype: x.dtype)]
    }
}

struct STFTOp: TensorKernel {
    let onesided: Bool
    init(_ c: NodeContext) throws { onesided = try c.int("onesided", 1) != 0 }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "signal")
        guard x.rank == 3 else { throw KernelError("signal must have shape [batch, length, 1 or 2], got \(x.shape)") }
        let step = try signalScalarInt(try inputs.required(1, "frame_step"), "frame_step")
        guard step >= 1 else { throw KernelError("frame_step must be positive, got \(step)") }
        let window = try inputs.optional(2).map { try signalDoubles($0, "window") }
        let batch = x.shape[0], len = x.shape[1]
        var frameLength = window?.count ?? len
        if let fl = inputs.optional(3) { frameLength = try signalScalarInt(fl, "frame_length") }
        guard frameLength >= 1, frameLength <= len else { throw KernelError("frame_length \(frameLength) is out of range for signal length \(len)") }
        let w = window ?? [Double](repeating: 1, count: frameLength)
        let frames = 1 + (len - frameLength) / step
        let bins = onesided ? frameLength / 2 + 1 : frameLength
        let (re, im) = try signalComplex(x, "signal")
        let ws = w.count
        // Frames laid out [batch * frames, windowSize] with the window applied.
        var fr = [Double](repeating: 0, count: batch * frames * ws), fi = fr
        for b in 0..<batch {
            for f in 0..<frames {
                for t in 0..<ws {
                    let pos = f * step + t
                    guard pos < len else { continue }
                    let d = (b * frames + f) * ws + t
                    fr[d] = re[b * len + pos] * w[t]; fi[d] = im[b * len + pos] * w[t]
                }
            }
        }
        let (oRe, oIm) = signalDFT(re: fr, im: fi, outer: batch * frames, n: ws, inner: 1,
                                   length: frameLength, nOut: bins, sign: -1, scale: 1)
        return [try signalTensor(signalInterleave(oRe, oIm), shape: [batch, frames, bins, 2], dtype: x.dtype)]
    }
}

struct WindowOp: TensorKernel {
    enum Kind { case hann, hamming, blackman }
    let kind: Kind
    let periodic: Bool
    let dtype: DType

    init(_ c: NodeContext, kind: Kind) throws {
        self.kind = kind
        periodic = try c.int("periodic", 1) != 0
        let od = try c.int("output_datatype", 1)
        guard let dt = DType(rawValue: od), dt != .string, dt != .bool else { throw KernelError("output_datatype \(od) is not supported") }
        dtype = dt
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let size = try signalScalarInt(try inputs.required(0, "size"), "size")
        guard size >= 0 else { throw KernelError("size must be non-negative, got \(size)") }
        let denom = Double(periodic ? size : size - 1)
        var v = [Double](repeating: 0, count: size)
        for i in 0..<size {
            let x = Double(i) * 2 * Double.pi / denom
            switch kind {
            case .hann: let s = sin(Double(i) * Double.pi / denom); v[i] = s * s
            case .hamming: v[i] = 25.0 / 46.0 - cos(x) * (21.0 / 46.0)
            case .blackman: v[i] = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x)
            }
        }
        return [try signalTensor(v, shape: [size], dtype: dtype)]
    }
}

struct MelWeightMatrixOp: TensorKernel {
    let dtype: DType
    init(_ c: NodeContext) throws {
        let od = try c.int("output_datatype", 1)
        guard let dt = DType(rawValue: od), dt != .string, dt != .bool else { throw KernelError("output_datatype \(od) is not supported") }
        dtype = dt
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let mels = try signalScalarInt(try inputs.required(0, "num_mel_bins"), "num_mel_bins")
        let dftLength = try signalScalarInt(try inputs.required(1, "dft_length"), "dft_length")
        let rate = try signalScalarInt(try inputs.required(2, "sample_rate"), "sample_rate")
        let loT = try inputs.required(3, "lower_edge_hertz"), hiT = try inputs.required(4, "upper_edge_hertz")
        guard loT.count == 1, hiT.count == 1 else { throw KernelError("edge frequencies must be scalars") }
        guard mels >= 1, dftLength >= 1, rate >= 1, mels <= 1 << 20, dftLength <= 1 << 24 else {
            throw KernelError("num_mel_bins, dft_length and sample_rate must be positive")
        }
        // Mirrors the reference: the log1p step runs in the edges' precision (float), the rest in double.
        func mel(_ hz: Double) -> Double {
            if loT.dtype == .float64 { return 2595 * log1p(hz / 700) / log(10.0) }
            return Double(Float(2595) * log1p(Float(hz) / 700)) / log(10.0)
        }
        let lo = mel(loT.doubleValue(at: 0)), hi = mel(hiT.doubleValue(at: 0))
        let step = (hi - lo) / Double(mels + 2)
        let specBins = dftLength / 2 + 1
        var bins = [Int](repeating: 0, count: mels + 2)
        for i in 0..<(mels + 2) {
            let hz = 700 * expm1((Double(i) * step + lo) / 2595 * log(10.0))
            let v = (Double(dftLength + 1) * hz / Double(rate)).rounded(.down)
            guard v.isFinite, abs(v) < 1e12 else { throw KernelError("mel frequency bins are not finite") }
            bins[i] = Int(v)
        }
        var out = [Double](repeating: 0, count: specBins * mels)
        func set(_ j: Int, _ i: Int, _ v: Double) throws {
            guard j >= 0, j < specBins else { throw KernelError("mel bin \(j) is outside the \(specBins) spectrogram bins") }
            out[j * mels + i] = v
        }
        for i in 0..<mels {
            let l = bins[i], c = bins[i + 1], h = bins[i + 2]
            if c - l == 0 { try set(c, i, 1) } else if c > l {
                for j in l...c { try set(j, i, Double(j - l) / Double(c - l)) }
            }
            if h - c > 0 { for j in c..<h { try set(j, i, Double(h - j) / Double(h - c)) } }
        }
        return [try signalTensor(out, shape: [specBins, mels], dtype: dtype)]
    }
}
