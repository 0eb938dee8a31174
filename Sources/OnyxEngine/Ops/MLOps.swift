import OnyxTensor

enum MLOps {
    static func register(_ t: inout OperatorTable) {
    }
}
