/// Every operator family registers its kernels here. One family per file (or small group of files).
let operatorFamilies: [@Sendable (inout OperatorTable) -> Void] = [
    CoreOps.register,
    ElementwiseOps.register,
    ShapeOps.register,
    NNOps.register,
    ControlFlowOps.register,
    MLOps.register,
    FusedOps.register,
    ChannelAffineOps.register,
    TransformerFusedOps.register,
]
