import OnyxTensor

/// Neural-network operators, split by sub-family across MatMul.swift, Conv.swift, ConvTranspose.swift,
/// Pool.swift, Normalization.swift, Softmax.swift, Reduce.swift, Losses.swift, NNMisc.swift.
enum NNOps {
    static func register(_ t: inout OperatorTable) {
        MatMulOps.register(&t)
        ConvOps.register(&t)
        PoolOps.register(&t)
        NormalizationOps.register(&t)
        SoftmaxOps.register(&t)
        ReduceOps.register(&t)
        LossOps.register(&t)
        RoiOps.register(&t)
        NNMiscOps.register(&t)
    }
}
