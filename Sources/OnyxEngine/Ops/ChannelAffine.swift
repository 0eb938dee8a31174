import OnyxTensor
import OnyxKernels
import COnyxKernels

/// ai.onyx.ChannelAffine, made by the optimizer from BatchNormalization / Mul / Add / Sub / Div chains with
/// per-channel constants (see OptimizerChannelAffine.swift).
enum ChannelAffineOps {
    static func register(_ t: inout OperatorTable) {
        t.add("ChannelAffine", domain: FusedOps.domain) { try ChannelAffineOp($0) }
    }
}

/// ai.onyx.ChannelAffine(X, scale, bias): activation(X · scale[c] + bias[c]) along axis 1, float32, in one pass
/// (vectorised, planes in parallel). scale and bias hold C values, or one value applied to every element (X of
/// any rank). X with one channel and C > 1 broadcasts to C channels, as Mul / Add would. Attributes
/// `activation` / `activation_params` as for FusedConv.
struct ChannelAffineOp: TensorKernel, PrepackingKernel {
    let spec: FusedActivationSpec
    /// scale and bias when constant at load (then not read at run time).
    let constant: (scale: [Float], bias: [Float])?

    init(_ c: NodeContext) throws {
        spec = try FusedActivationSpec(c)
        guard c.inputCount == 3 else { throw KernelError("ChannelAffine needs inputs X, scale, bias, got \(c.inputCount)") }
        if let s = c.constantInputs[1], let b = c.constantInputs[2] {
            let v = try Self.values(s, b)
            constant = (v.0, v.1)
        } else {
            constant = nil
        }
    }

    var absorbedInputs: [Int] { constant != nil ? [1, 2] : [] }
    var packedBytes: Int { (constant?.scale.count ?? 0) * 8 }

    static func values(_ s: Tensor, _ b: Tensor) throws -> ([Float], [Float]) {
        guard s.dtype == .float32, b.dtype == .float32, s.count == b.count, s.count >= 1, s.rank <= 1, b.rank <= 1 else {
            throw KernelError("ChannelAffine scale \(s.dtype)\(s.shape) and bias \(b.dtype)\(b.shape) must be float vectors of equal length")
        }
        return (try s.toArray(Float.self), try b.toArray(Float.self))
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.dtype == .float32 else { throw KernelError("ChannelAffine needs float32 X, got \(x.dtype)") }
        let (scale, bias) = try constant ?? Self.values(try inputs.required(1, "scale"), try inputs.required(2, "bias"))
        let c = scale.count
        // Output layout: n images of c planes of hw values; X has xc channels (c, or 1 broadcast).
        let n: Int, xc: Int, hw: Int, outShape: [Int]
        if c == 1 {
            n = 1; xc = 1; hw = x.count; outShape = x.shape
        } else {
            guard x.rank >= 2, x.shape[1] == c || x.shape[1] == 1 else {
                throw KernelError("ChannelAffine has \(c) channel values; X \(x.shape) must have \(c) (or 1) channels on axis 1")
            }
            n = x.shape[0]; xc = x.shape[1]; hw = Tensor.count(Array(x.shape.dropFirst(2)))
            var s = x.shape
            s[1] = c
            outShape = s
        }
        let y = Tensor.uninitialized(.float32, shape: outShape)
        if y.count == 0 { return [y] }
        let ys = FusedMutPtr(p: y.mutablePointer(Float.self))
        let spec = self.spec
        try x.withBuffer(of: Float.self) { xb in
            guard let xp = xb.baseAddress else { return }
            let xs = FusedPtr(p: xp)
            scale.withUnsafeBufferPointer { sb in
                bias.withUnsafeBufferPointer { bb in
                    guard let sp = sb.baseAddress, let bp = bb.baseAddress else { return }
                    let ss = FusedPtr(p: sp), bs = FusedPtr(p: bp)
                    if c == 1 {
                        // One plane: split it in contiguous element ranges.
                        let chunk = 4096
                        ctx.parallelFor((hw + chunk - 1) / chunk, cost: chunk) { r in
                            guard let xq = xs.p, let sq = ss.p, let bq = bs.p else { return }
                            let lo = r.lowerBound * chunk, hi = min(hw, r.upperBound * chunk)
                            onyx_channel_affine(xq + lo, ys.p + lo, 0, 1, 1, 1, hi - lo, sq, bq, spec.act.rawValue, spec.p0, spec.p1)
                        }
                    } else {
                        ctx.parallelFor(n * c, cost: hw) { r in
                            guard let xq = xs.p, let sq = ss.p, let bq = bs.p else { return }
                            onyx_channel_affine(xq, ys.p, r.lowerBound, r.upperBound, c, xc, hw, sq, bq,
                                                spec.act.rawValue, spec.p0, spec.p1)
                        }
                    }
                }
            }
        }
        return [y]
    }
}
