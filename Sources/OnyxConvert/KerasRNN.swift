import Foundation
import OnyxTensor
import OnyxEngine

/// LSTM / GRU / SimpleRNN (and Bidirectional wrappers of them) → ONNX LSTM / GRU / RNN.
enum KerasRNN {
    static func onnxActivation(_ a: Any?) throws -> String {
        let s = (a as? String) ?? ((a as? [String: Any])?["config"] as? String) ?? "tanh"
        switch s {
        case "tanh": return "Tanh"
        case "sigmoid": return "Sigmoid"
        case "relu": return "Relu"
        case "softsign": return "Softsign"
        case "softplus": return "Softplus"
        default: throw ConvertError("recurrent activation '\(s)' is not supported")
        }
    }

    /// Splits columns of a (rows, g*u) matrix into g gate blocks and reorders them, returning (g*u, rows).
    static func gates(_ t: Tensor, units u: Int, order: [Int]) throws -> [Float] {
        let v = try t.toArray(Float.self)
        let cols = order.count * u
        guard t.rank == 2, t.shape[1] == cols else { throw ConvertError("weight shape \(t.shape) does not match \(order.count) gates of \(u) units") }
        let rows = t.shape[0]
        var out = [Float](repeating: 0, count: cols * rows)
        for (g, src) in order.enumerated() {
            for j in 0..<u { for r in 0..<rows { out[(g * u + j) * rows + r] = v[r * cols + src * u + j] } }
        }
        return out
    }

    static func reorderVector(_ v: [Float], units u: Int, order: [Int]) -> [Float] {
        order.flatMap { Array(v[($0 * u)..<(($0 + 1) * u)]) }
    }

    struct Spec {
        var op: String
        var order: [Int]
        var attrs: [String: Attribute]
        var units: Int
    }

    /// W, R, B for one direction: flat arrays in ONNX order.
    static func directionWeights(_ cls: String, _ c: LayerConfig, _ w: [Tensor]) throws -> (Spec, [Float], [Float], [Float], Int) {
        guard let u = c.int("units"), u > 0 else { throw ConvertError("missing units") }
        let useBias = c.bool("use_bias", true)
        guard w.count >= (useBias ? 3 : 2) else { throw ConvertError("expected \(useBias ? 3 : 2) weights, found \(w.count)") }
        var spec: Spec
        let act = try onnxActivation(c.d["activation"])
        switch cls {
        case "LSTM":
            let ra = try onnxActivation(c.d["recurrent_activation"] ?? "sigmoid")
            spec = Spec(op: "LSTM", order: [0, 3, 1, 2], attrs: ["activations": .strings([ra, act, act])], units: u)
        case "GRU":
            let ra = try onnxActivation(c.d["recurrent_activation"] ?? "sigmoid")
            let after = c.bool("reset_after", true)
            spec = Spec(op: "GRU", order: [0, 1, 2], attrs: ["activations": .strings([ra, act]),
                                                             "linear_before_reset": .int(after ? 1 : 0)], units: u)
        default:
            spec = Spec(op: "RNN", order: [0], attrs: ["activations": .strings([act])], units: u)
        }
        let g = spec.order.count
        let W = try gates(w[0], units: u, order: spec.order)
        let R = try gates(w[1], units: u, order: spec.order)
        let inputSize = w[0].shape[0]
        var B = [Float](repeating: 0, count: 2 * g * u)
        if useBias {
            let bv = try w[2].toArray(Float.self)
            if bv.count == g * u {
                B.replaceSubrange(0..<(g * u), with: reorderVector(bv, units: u, order: spec.order))
            } else if bv.count == 2 * g * u, cls == "GRU" {
                B.replaceSubrange(0..<(g * u), with: reorderVector(Array(bv[0..<(g * u)]), units: u, order: spec.order))
                B.replaceSubrange((g * u)..., with: reorderVector(Array(bv[(g * u)...]), units: u, order: spec.order))
            } else {
                throw ConvertError("bias has \(bv.count) values, expected \(g * u)")
            }
        }
        return (spec, W, R, B, inputSize)
    }

    static func rnn(_ b: KerasGraphBuilder, _ cls: String, _ input: KT, _ c: LayerConfig, _ weights: KerasWeights?,
                    name: String) throws -> [KT] {
        let x = b.keras(input, "\(name)/to_channels_last")
        guard x.rank == 3 else { throw ConvertError("input has rank \(x.rank), expected 3") }
        let w = weights?.all ?? []
        let (spec, W, R, B, inSize) = try directionWeights(cls, c, w)
        let g = spec.order.count, u = spec.units
        let back = c.bool("go_backwards", false)
        var attrs = spec.attrs
        attrs["hidden_size"] = .int(u)
        attrs["direction"] = .string(back ? "reverse" : "forward")
        let seq = b.op1("Transpose", [x.name], ["perm": .ints([1, 0, 2])], name: "\(name)/time_major")
        var ins = [seq, try b.floats(W, shape: [1, g * u, inSize], "\(name)/W"),
                   try b.floats(R, shape: [1, g * u, u], "\(name)/R"),
                   try b.floats(B, shape: [1, 2 * g * u], "\(name)/B")]
        let stateful = c.bool("stateful", false)
        if stateful { ins += try stateInputs(b, cls, units: u, name: name) }
        let outs = b.op(spec.op, ins, attrs, name: name, outputs: cls == "LSTM" ? 3 : 2)
        if stateful {
            b.stateOutputs.append(("\(name)_state_h_next", b.squeeze(outs[1], axes: [0], name: "\(name)/state_h_next")))
            if cls == "LSTM" {
                b.stateOutputs.append(("\(name)_state_c_next", b.squeeze(outs[2], axes: [0], name: "\(name)/state_c_next")))
            }
        }
        var result: [KT] = []
        if c.bool("return_sequences", false) {
            var y = b.squeeze(outs[0], axes: [1], name: name)
            y = b.op1("Transpose", [y], ["perm": .ints([1, 0, 2])], name: "\(name)/batch_major")
            if back {
                // Keras returns a backwards layer's outputs in processing order.
                y = b.op1("Slice", [y, b.ints([-1], "\(name)/rs"), b.ints([Int(Int64.min)], "\(name)/re"),
                                    b.ints([1], "\(name)/ra"), b.ints([-1], "\(name)/rstep")], name: "\(name)/reverse")
            }
            result.append(KT(name: y, rank: 3))
        } else {
            result.append(KT(name: b.squeeze(outs[1], axes: [0], name: name), rank: 2))
        }
        if c.bool("return_state", false) {
            result.append(KT(name: b.squeeze(outs[1], axes: [0], name: "\(name)/h"), rank: 2))
            if cls == "LSTM" { result.append(KT(name: b.squeeze(outs[2], axes: [0], name: "\(name)/c"), rank: 2)) }
        }
        return result
    }

    /// A stateful RNN's states become graph inputs `<layer>_state_h` (and `_state_c` for LSTM), shape
    /// (batch, units), whose initializer defaults are zeros (the state after `reset_states()`); the final states
    /// are extra graph outputs `<layer>_state_h_next` / `_state_c_next` to feed into the next call. Returns the
    /// ONNX RNN inputs from `sequence_lens` on.
    static func stateInputs(_ b: KerasGraphBuilder, _ cls: String, units u: Int, name: String) throws -> [String] {
        guard let n = b.staticBatch, n > 0 else {
            throw ConvertError("a stateful RNN needs a fixed batch size (Input(batch_size=...) or --batch-size)")
        }
        guard n <= 1 << 20, n * u <= 1 << 26 else { throw ConvertError("batch size \(n) x \(u) units is too large for a state") }
        var ins = [""]
        for s in cls == "LSTM" ? ["h", "c"] : ["h"] {
            let iname = b.fresh("\(name)_state_\(s)")
            b.graphInputs.append(ValueInfo(name: iname, type: .tensor(.float32, shape: [.fixed(n), .fixed(u)])))
            b.initializers.append((iname, try Tensor(shape: [n, u], values: [Float](repeating: 0, count: n * u))))
            ins.append(b.unsqueeze(iname, axes: [0], name: "\(name)/state_\(s)"))
        }
        return ins
    }

    static func bidirectional(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ weights: KerasWeights?,
                              name: String) throws -> [KT] {
        let x = b.keras(input, "\(name)/to_channels_last")
        guard x.rank == 3 else { throw ConvertError("input has rank \(x.rank), expected 3") }
        guard let inner = c.d["layer"] as? [String: Any], let cls = inner["class_name"] as? String,
              let icfg = inner["config"] as? [String: Any] else { throw ConvertError("no wrapped layer") }
        let ic = LayerConfig(icfg)
        if ic.bool("stateful", false) { throw ConvertError("stateful RNNs are not supported in Bidirectional") }
        if ic.bool("return_state", false) { throw ConvertError("return_state is not supported in Bidirectional") }
        let w = weights?.all ?? []
        let per = w.count / 2
        guard per >= 2, w.count % 2 == 0 else { throw ConvertError("expected forward and backward weights, found \(w.count)") }
        let (spec, Wf, Rf, Bf, inSize) = try directionWeights(cls, ic, Array(w[0..<per]))
        var bc = ic
        if let back = c.d["backward_layer"] as? [String: Any], let bcfg = back["config"] as? [String: Any] { bc = LayerConfig(bcfg) }
        let (_, Wb, Rb, Bb, _) = try directionWeights(cls, bc, Array(w[per...]))
        let g = spec.order.count, u = spec.units
        var attrs = spec.attrs
        if case .strings(let a)? = attrs["activations"] { attrs["activations"] = .strings(a + a) }
        attrs["hidden_size"] = .int(u)
        attrs["direction"] = .string("bidirectional")
        let seq = b.op1("Transpose", [x.name], ["perm": .ints([1, 0, 2])], name: "\(name)/time_major")
        let outs = b.op(spec.op, [seq, try b.floats(Wf + Wb, shape: [2, g * u, inSize], "\(name)/W"),
                                  try b.floats(Rf + Rb, shape: [2, g * u, u], "\(name)/R"),
                                  try b.floats(Bf + Bb, shape: [2, 2 * g * u], "\(name)/B")],
                        attrs, name: name, outputs: cls == "LSTM" ? 3 : 2)
        let mode = c.string("merge_mode") ?? "concat"
        let seqOut = ic.bool("return_sequences", false)
        // Direction-major outputs: Y (T, 2, N, u) or Y_h (2, N, u).
        var y: String
        var rank: Int
        if seqOut {
            y = b.op1("Transpose", [outs[0]], ["perm": .ints([2, 0, 1, 3])], name: "\(name)/batch_major")  // N, T, 2, u
            rank = 3
        } else {
            y = b.op1("Transpose", [outs[1]], ["perm": .ints([1, 0, 2])], name: "\(name)/batch_major")  // N, 2, u
            rank = 2
        }
        let dirAxis = rank - 1
        switch mode {
        case "concat":
            y = b.op1("Reshape", [y, b.ints(seqOut ? [0, 0, -1] : [0, -1], "\(name)/shape")], name: name)
        case "sum", "ave":
            y = b.reduce("ReduceSum", y, axes: [dirAxis], keepdims: false, name: name)
            if mode == "ave" { y = b.op1("Mul", [y, try b.floats([0.5], shape: [], "\(name)/half")], name: name) }
        case "mul":
            let f = b.op1("Gather", [y, b.const(Tensor(scalar: Int64(0)), "\(name)/i0")], ["axis": .int(dirAxis)], name: name)
            let r = b.op1("Gather", [y, b.const(Tensor(scalar: Int64(1)), "\(name)/i1")], ["axis": .int(dirAxis)], name: name)
            y = b.op1("Mul", [f, r], name: name)
        default: throw ConvertError("merge_mode '\(mode)' is not supported")
        }
        return [KT(name: y, rank: rank)]
    }
}
