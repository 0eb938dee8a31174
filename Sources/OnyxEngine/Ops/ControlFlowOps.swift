import OnyxTensor

enum ControlFlowOps {
    static func register(_ t: inout OperatorTable) {
    }
}
