import OnyxTensor

enum ElementwiseOps {
    static func register(_ t: inout OperatorTable) {
    }
}
