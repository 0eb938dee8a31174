import OnyxTensor

enum ShapeOps {
    static func register(_ t: inout OperatorTable) {
    }
}
