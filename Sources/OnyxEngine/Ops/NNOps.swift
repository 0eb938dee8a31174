import OnyxTensor

enum NNOps {
    static func register(_ t: inout OperatorTable) {
    }
}
