import Foundation
import OnyxTensor
import OnyxEngine

/// Keras layers built from several ONNX operators: Dot, GroupNormalization, MultiHeadAttention, TimeDistributed.
enum KerasWrappers {
    static let classes: Set<String> = ["Dot", "GroupNormalization", "MultiHeadAttention", "TimeDistributed"]

    static func convert(_ b: KerasGraphBuilder, cls: String, name: String, cfg c: LayerConfig, inputs: [KT],
                        weights: KerasWeights?) throws -> [KT] {
        switch cls {
        case "Dot": return [try dot(b, inputs, c, name: name)]
        case "GroupNormalization":
            guard inputs.count == 1 else { throw ConvertError("expected 1 input, got \(inputs.count)") }
            return [try groupNorm(b, inputs[0], c, weights?.all ?? [], name: name)]
        case "MultiHeadAttention": return [try attention(b, inputs, c, weights, name: name)]
        case "TimeDistributed":
            guard inputs.count == 1 else { throw ConvertError("expected 1 input, got \(inputs.count)") }
            return [try timeDistributed(b, inputs[0], c, weights, name: name)]
        default: throw ConvertError("unsupported layer class '\(cls)'")
        }
    }

    // MARK: Dot

    /// x / sqrt(max(sum(x², axis), 1e-12)), Keras's l2_normalize.
    static func l2Normalize(_ b: KerasGraphBuilder, _ x: String, axis: Int, name: String) throws -> String {
        let ss = b.reduce("ReduceSum", b.op1("Mul", [x, x], name: name), axes: [axis], keepdims: true, name: name)
        let m = b.op1("Max", [ss, try b.floats([1e-12], shape: [], "\(name)/eps")], name: name)
        return b.op1("Div", [x, b.op1("Sqrt", [m], name: name)], name: name)
    }

    /// Keras `Dot(axes, normalize)`: a batched dot product of two rank-2 or two rank-3 tensors.
    static func dot(_ b: KerasGraphBuilder, _ inputs: [KT], _ c: LayerConfig, name: String) throws -> KT {
        guard inputs.count == 2 else { throw ConvertError("Dot needs exactly 2 inputs, got \(inputs.count)") }
        let x = b.keras(inputs[0], "\(name)/a_channels_last"), y = b.keras(inputs[1], "\(name)/b_channels_last")
        guard x.rank == y.rank, x.rank == 2 || x.rank == 3 else {
            throw ConvertError("Dot of ranks \(x.rank) and \(y.rank) is not supported (two rank-2 or two rank-3 inputs)")
        }
        var axes = try c.ints("axes", 2) ?? [-1, -1]
        axes = try axes.map { a in
            let k = a < 0 ? a + x.rank : a
            guard k >= 1, k < x.rank else { throw ConvertError("axes \(axes) out of range for rank \(x.rank)") }
            return k
        }
        var xa = x.name, ya = y.name
        if c.bool("normalize", false) {
            xa = try l2Normalize(b, xa, axis: axes[0], name: "\(name)/normalize_a")
            ya = try l2Normalize(b, ya, axis: axes[1], name: "\(name)/normalize_b")
        }
        if x.rank == 2 {
            let p = b.op1("Mul", [xa, ya], name: name)
            return KT(name: b.reduce("ReduceSum", p, axes: [1], keepdims: true, name: name), rank: 2)
        }
        // (N, A, D) · (N, D, B) → (N, A, B): the first operand's contracted axis last, the second's first.
        if axes[0] == 1 { xa = b.op1("Transpose", [xa], ["perm": .ints([0, 2, 1])], name: "\(name)/a") }
        if axes[1] == 2 { ya = b.op1("Transpose", [ya], ["perm": .ints([0, 2, 1])], name: "\(name)/b") }
        return KT(name: b.op1("MatMul", [xa, ya], name: name), rank: 3)
    }

    // MARK: GroupNormalization

    /// Channels split into `groups` consecutive groups; each (sample, group) normalized over its channels and all
    /// other non-batch axes: Reshape to (N, G, -1) → InstanceNormalization → Reshape back → per-channel scale/shift.
    static func groupNorm(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], name: String) throws -> KT {
        let axis = try KerasLayers.singleAxis(c, -1)
        let k = axis < 0 ? axis + input.rank : axis
        guard k >= 1, k < input.rank else { throw ConvertError("axis \(axis) is out of range for rank \(input.rank)") }
        var x = input
        if try b.physAxis(x, axis) != 1 {
            guard k == x.rank - 1 else { throw ConvertError("axis \(axis) is not supported (the last or the second axis)") }
            x = b.channelsFirst(x, "\(name)/to_channels_first")
        }
        guard try b.physAxis(x, axis) == 1 else { throw ConvertError("axis \(axis) is not supported") }
        guard let groups = c.int("groups"), groups >= 1, groups <= 1 << 20 else { throw ConvertError("missing or bad groups") }
        let center = c.bool("center", true), scale = c.bool("scale", true)
        guard w.count == (center ? 1 : 0) + (scale ? 1 : 0) else {
            throw ConvertError("expected \((center ? 1 : 0) + (scale ? 1 : 0)) weights, found \(w.count)")
        }
        let channels = w.first?.count
        if let ch = channels, ch % groups != 0 { throw ConvertError("\(ch) channels do not split into \(groups) groups") }
        let eps = c.float("epsilon", 1e-3)
        let shape = b.op1("Shape", [x.name], name: "\(name)/shape")
        let grouped = b.op1("Reshape", [x.name, b.ints([0, groups, -1], "\(name)/grouped_shape")], name: "\(name)/grouped")
        let ones = try b.floats([Float](repeating: 1, count: groups), shape: [groups], "\(name)/ones")
        let zeros = try b.floats([Float](repeating: 0, count: groups), shape: [groups], "\(name)/zeros")
        let normed = b.op1("InstanceNormalization", [grouped, ones, zeros], ["epsilon": .float(eps)], name: name)
        var y = x
        y.name = b.op1("Reshape", [normed, shape], name: "\(name)/ungrouped")
        var i = 0
        if scale, let n = channels {
            let s = try KerasLayers.channelShape(b, y, axis: axis, count: n)
            y.name = b.op1("Mul", [y.name, b.const(try w[i].reshaped(s), "\(name)/gamma")], name: name)
            i += 1
        }
        if center, let n = channels {
            let s = try KerasLayers.channelShape(b, y, axis: axis, count: n)
            y.name = b.op1("Add", [y.name, b.const(try w[i].reshaped(s), "\(name)/beta")], name: name)
        }
        return y
    }

    // MARK: MultiHeadAttention

    /// Keras `MultiHeadAttention` on rank-3 (batch, time, features) inputs, attention over the time axis:
    /// per-head projections (EinsumDense kernels (D, H, d) folded to (D, H·d) MatMuls), softmax(q·kᵀ/√dk)·v,
    /// and the output projection (H, dv, E) folded to (H·dv, E). Inputs: query, value[, key].
    static func attention(_ b: KerasGraphBuilder, _ inputs: [KT], _ c: LayerConfig, _ weights: KerasWeights?,
                          name: String) throws -> KT {
        guard inputs.count == 2 || inputs.count == 3 else {
            throw ConvertError("MultiHeadAttention needs query and value (and optionally key), got \(inputs.count) inputs")
        }
        if c.has("attention_axes") {
            // Keras writes the default, attention over the time axis of rank-3 inputs, as [1].
            let axes = try c.ints("attention_axes", 1) ?? []
            guard axes == [1] || axes == [-2] else {
                throw ConvertError("attention_axes \(axes) is not supported (attention over the time axis only)")
            }
        }
        if c.bool("use_gate", false) { throw ConvertError("use_gate is not supported") }
        let q = b.keras(inputs[0], "\(name)/query_channels_last"), v = b.keras(inputs[1], "\(name)/value_channels_last")
        let k = inputs.count == 3 ? b.keras(inputs[2], "\(name)/key_channels_last") : v
        guard q.rank == 3, v.rank == 3, k.rank == 3 else { throw ConvertError("inputs must have rank 3") }
        guard let heads = c.int("num_heads"), heads > 0, let dk = c.int("key_dim"), dk > 0 else {
            throw ConvertError("missing num_heads/key_dim")
        }
        let dv = c.int("value_dim") ?? dk
        let useBias = c.bool("use_bias", true)
        func part(_ p: String) throws -> [Tensor] {
            guard let w = weights?.sub(p) else { throw ConvertError("missing weights of '\(p)'") }
            guard w.vars.count == (useBias ? 2 : 1) else { throw ConvertError("'\(p)' has \(w.vars.count) weights, expected \(useBias ? 2 : 1)") }
            return w.vars
        }
        /// x (N, T, D) → (N, H, T, d) or, `transposeKey`, (N, H, d, T).
        func project(_ x: KT, _ p: String, d: Int, transposeKey: Bool = false) throws -> String {
            let w = try part(p)
            guard w[0].rank == 3, w[0].shape[1] == heads, w[0].shape[2] == d else {
                throw ConvertError("'\(p)' kernel has shape \(w[0].shape), expected (features, \(heads), \(d))")
            }
            var y = b.op1("MatMul", [x.name, b.const(try w[0].reshaped([w[0].shape[0], heads * d]), "\(name)/\(p)/kernel")],
                          name: "\(name)/\(p)")
            if useBias {
                y = b.op1("Add", [y, b.const(try w[1].reshaped([heads * d]), "\(name)/\(p)/bias")], name: "\(name)/\(p)")
            }
            y = b.op1("Reshape", [y, b.ints([0, 0, heads, d], "\(name)/\(p)/heads")], name: "\(name)/\(p)")
            return b.op1("Transpose", [y], ["perm": .ints(transposeKey ? [0, 2, 3, 1] : [0, 2, 1, 3])], name: "\(name)/\(p)")
        }
        var qh = try project(q, "query", d: dk)
        qh = b.op1("Mul", [qh, try b.floats([Float(1 / Double(dk).squareRoot())], shape: [], "\(name)/scale")], name: name)
        let kh = try project(k, "key", d: dk, transposeKey: true)
        let vh = try project(v, "value", d: dv)
        var scores = b.op1("MatMul", [qh, kh], name: "\(name)/scores")  // N, H, Tq, Tk
        if b.useCausalMask {
            // Keras's causal mask keeps key j for query i when i >= j; masked scores get -1e9 added (Softmax layer).
            guard b.opset >= 14 else { throw ConvertError("use_causal_mask needs opset 14 or later (Trilu)") }
            let s = b.op1("Shape", [scores], name: "\(name)/mask_shape")
            let tqk = b.op1("Slice", [s, b.ints([2], "\(name)/s2"), b.ints([4], "\(name)/e4")], name: "\(name)/mask_shape")
            let ones = b.op1("ConstantOfShape", [tqk], ["value": .tensor(try Tensor(shape: [1], values: [Float(1)]))],
                             name: "\(name)/mask")
            let keep = b.op1("Trilu", [ones], ["upper": .int(0)], name: "\(name)/mask")
            let drop = b.op1("Sub", [try b.floats([1], shape: [], "\(name)/one"), keep], name: "\(name)/mask")
            let adder = b.op1("Mul", [drop, try b.floats([-1e9], shape: [], "\(name)/neg")], name: "\(name)/mask")
            scores = b.op1("Add", [scores, adder], name: "\(name)/masked")
        }
        let probs = b.op1("Softmax", [scores], ["axis": .int(-1)], name: name)
        var y = b.op1("MatMul", [probs, vh], name: "\(name)/context")  // N, H, Tq, dv
        y = b.op1("Transpose", [y], ["perm": .ints([0, 2, 1, 3])], name: "\(name)/context")
        y = b.op1("Reshape", [y, b.ints([0, 0, heads * dv], "\(name)/merge_heads")], name: "\(name)/context")
        let o = try part("attention_output")
        guard o[0].rank == 3, o[0].shape[0] == heads, o[0].shape[1] == dv else {
            throw ConvertError("attention_output kernel has shape \(o[0].shape), expected (\(heads), \(dv), features)")
        }
        y = b.op1("MatMul", [y, b.const(try o[0].reshaped([heads * dv, o[0].shape[2]]), "\(name)/output/kernel")],
                  name: "\(name)/output")
        if useBias { y = b.op1("Add", [y, b.const(o[1], "\(name)/output/bias")], name: "\(name)/output") }
        return KT(name: y, rank: 3)
    }

    // MARK: TimeDistributed

    /// Applies the wrapped layer to every time step: (N, T, ...) → (N·T, ...) → layer → (N, T, ...).
    static func timeDistributed(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ weights: KerasWeights?,
                                name: String) throws -> KT {
        guard let inner = c.d["layer"] as? [String: Any], let cls = inner["class_name"] as? String,
              let icfg = inner["config"] as? [String: Any] else { throw ConvertError("no wrapped layer") }
        let x = b.keras(input, "\(name)/to_channels_last")
        guard x.rank >= 3 else { throw ConvertError("input has rank \(x.rank), expected at least 3") }
        let iname = (icfg["name"] as? String) ?? cls
        let shape = b.op1("Shape", [x.name], name: "\(name)/shape")
        let rest = b.op1("Slice", [shape, b.ints([2], "\(name)/s2"), b.ints([Int(Int64.max)], "\(name)/end")],
                         name: "\(name)/step_shape")
        let merged = b.op1("Reshape", [x.name, b.op1("Concat", [b.ints([-1], "\(name)/minus1"), rest], ["axis": .int(0)],
                                                      name: "\(name)/merged_shape")], name: "\(name)/merge_time")
        let innerWeights = weights?.sub(iname) ?? weights
        let outs = try KerasLayers.convert(b, cls: cls, name: "\(name)/\(iname)", cfg: LayerConfig(icfg),
                                           inputs: [KT(name: merged, rank: x.rank - 1, cf: false, isInt: x.isInt)],
                                           weights: innerWeights)
        guard outs.count == 1 else { throw ConvertError("the wrapped layer returns \(outs.count) tensors") }
        let y = b.keras(outs[0], "\(name)/inner_channels_last")
        let nt = b.op1("Slice", [shape, b.ints([0], "\(name)/s0"), b.ints([2], "\(name)/e2")], name: "\(name)/batch_time")
        let ys = b.op1("Shape", [y.name], name: "\(name)/inner_shape")
        let tail = b.op1("Slice", [ys, b.ints([1], "\(name)/s1"), b.ints([Int(Int64.max)], "\(name)/end")], name: "\(name)/inner_tail")
        let target = b.op1("Concat", [nt, tail], ["axis": .int(0)], name: "\(name)/out_shape")
        return KT(name: b.op1("Reshape", [y.name, target], name: "\(name)/split_time"), rank: y.rank + 1, cf: false,
                  isInt: y.isInt)
    }
}
