import OnyxTensor

/// Control flow (If, Loop, Scan), sequences, optionals, recurrent networks and attention.
/// Kernels live in ControlFlow.swift, Sequences.swift, Optional.swift, RNN.swift, Attention.swift, ….
enum ControlFlowOps {
    static func register(_ t: inout OperatorTable) {
        t.add("Attention", since: 23) { try AttentionOp($0) }
    }
}
