import OnyxTensor
import OnyxKernels
import COnyxKernels

/// Fast path for 2-D float32 MaxPool (without the Indices output) and AveragePool: planes in parallel,
/// contiguous per-plane loops (the generic N-d pooling walks every plane per output position).
/// Returns nil when the case is not covered.
func fastPool2d(_ x: Tensor, _ g: WindowGeometry, average: Bool, countIncludePad: Bool, ctx: RunContext) -> Tensor? {
    guard x.dtype == .float32, x.rank == 4, g.input.count == 2 else { return nil }
    let planes = x.shape[0] * x.shape[1]
    let y = Tensor.uninitialized(.float32, shape: Array(x.shape.prefix(2)) + g.output)
    if y.count == 0 { return y }
    let xs = FusedPtr(p: UnsafePointer(x.rawPointer.assumingMemoryBound(to: Float.self)))
    let ys = FusedMutPtr(p: y.mutablePointer(Float.self))
    let paddedH = g.input[0] + g.padBegin[0] + g.padEnd[0], paddedW = g.input[1] + g.padBegin[1] + g.padEnd[1]
    ctx.parallelFor(planes, cost: g.outputSize * g.kernelSize) { r in
        guard let xp = xs.p else { return }
        onyx_pool2d(xp, ys.p, r.lowerBound, r.upperBound, g.input[0], g.input[1], g.output[0], g.output[1],
                    g.kernel[0], g.kernel[1], g.strides[0], g.strides[1], g.padBegin[0], g.padBegin[1],
                    g.dilations[0], g.dilations[1], paddedH, paddedW, average ? 1 : 0, countIncludePad ? 1 : 0)
    }
    return y
}

/// Fast path for float32 GlobalAveragePool / GlobalMaxPool: each plane is pooled as one row whose window is the
/// whole row (onyx_pool2d's whole-plane case: one vector reduction per plane), planes in parallel (SqueezeNet's 1000
/// planes of 13x13: the generic loop took 0.068 ms). Returns nil when the case is not covered.
func fastGlobalPool(_ x: Tensor, average: Bool, ctx: RunContext) -> Tensor? {
    guard x.dtype == .float32, x.rank >= 2 else { return nil }
    let planes = x.shape[0] * x.shape[1]
    let size = Tensor.count(Array(x.shape.dropFirst(2)))
    let y = Tensor.uninitialized(.float32, shape: Array(x.shape.prefix(2)) + Array(repeating: 1, count: x.rank - 2))
    if planes == 0 { return y }
    let xs = FusedPtr(p: UnsafePointer(x.rawPointer.assumingMemoryBound(to: Float.self)))
    let ys = FusedMutPtr(p: y.mutablePointer(Float.self))
    ctx.parallelFor(planes, cost: max(size, 1)) { r in
        guard let xp = xs.p else { return }
        if size == 0 {
            for pl in r { ys.p[pl] = average ? 0 : -Float.infinity }
            return
        }
        onyx_pool2d(xp, ys.p, r.lowerBound, r.upperBound, 1, size, 1, 1, 1, size, 1, 1, 0, 0, 1, 1, 1, size,
                    average ? 1 : 0, 0)
    }
    return y
}
