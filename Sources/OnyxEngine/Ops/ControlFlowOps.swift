import OnyxTensor

/// Control flow (If, Loop, Scan), sequences, optionals, recurrent networks and attention.
/// Kernels live in ControlFlow.swift, Sequences.swift, Optional.swift, RNN.swift, Attention.swift, ….
enum ControlFlowOps {
    static func register(_ t: inout OperatorTable) {
        t.add("If") { try IfOp($0) }
        t.add("Loop") { try LoopOp($0) }
        t.add("Scan", since: 8) { try ScanOp($0, batched: true) }
        t.add("Scan", since: 9) { try ScanOp($0, batched: false) }

        t.add("SequenceEmpty", since: 11) { try SequenceEmptyOp($0) }
        t.add("SequenceConstruct", since: 11) { _ in SequenceConstructOp() }
        t.add("SequenceAt", since: 11) { _ in SequenceAtOp() }
        t.add("SequenceInsert", since: 11) { _ in SequenceInsertOp() }
        t.add("SequenceErase", since: 11) { _ in SequenceEraseOp() }
        t.add("SequenceLength", since: 11) { _ in SequenceLengthOp() }
        t.add("SplitToSequence", since: 11) { try SplitToSequenceOp($0) }
        t.add("ConcatFromSequence", since: 11) { try ConcatFromSequenceOp($0) }
        t.add("SequenceMap", since: 17) { try SequenceMapOp($0) }

        t.add("Optional", since: 15) { try OptionalOp($0) }
        t.add("OptionalHasElement", since: 15) { _ in OptionalHasElementOp() }
        t.add("OptionalGetElement", since: 15) { _ in OptionalGetElementOp() }

        t.add("RNN", since: 7) { try RecurrentOp($0, kind: .rnn) }
        t.add("GRU", since: 7) { try RecurrentOp($0, kind: .gru) }
        t.add("LSTM", since: 7) { try RecurrentOp($0, kind: .lstm) }

        t.add("Attention", since: 23) { try AttentionOp($0) }
        t.add("FlexAttention", domain: "ai.onnx.preview", since: 1) { try FlexAttentionOp($0) }
        t.add("RotaryEmbedding", since: 23) { try RotaryEmbeddingOp($0) }
        t.add("SwiGLU", since: 28) { try SwiGLUOp($0) }
        t.add("LinearAttention", since: 27) { try LinearAttentionOp($0) }
        t.add("CausalConvWithState", since: 27) { try CausalConvWithStateOp($0) }
    }
}
