import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX

/// Layout of a statically quantized model.
public enum StaticFormat: String, Sendable, CaseIterable {
    /// QuantizeLinear/DequantizeLinear pairs around the float ops (the default; runtimes fuse them).
    case qdq
    /// QLinearMatMul / QLinearConv operators between QuantizeLinear and DequantizeLinear.
    case qoperator
}

/// Static int8 quantization: activation ranges calibrated by running the float model with the activations as
/// extra outputs; uint8 asymmetric activations, int8 symmetric weights.
public enum StaticQuantizer {
    struct Target {
        var node: Node
        var weight: Tensor
        var x: String
        var y: String
    }

    public static func quantize(_ model: Model, calibration: CalibrationSet, method: CalibrationMethod, format: StaticFormat,
                                options: QuantizeOptions, progress: (Int, Int) -> Void = { _, _ in }) throws -> (Model, QuantizeSummary) {
        try calibration.validate(model)
        var summary = QuantizeSummary()
        let g = model.graph
        var targets: [Target] = []
        let lookup = GraphEditor(g)
        for n in g.nodes where n.domain.isEmpty && options.opTypes.contains(n.opType) && !options.exclude.contains(n.name) {
            guard n.inputs.count >= 2, !n.inputs[0].isEmpty, n.outputs.count == 1 else {
                summary.warnings.append("\(n.label) left in float: unexpected inputs/outputs"); continue
            }
            guard let w = lookup.constant(n.inputs[1]), w.dtype == .float32 else {
                summary.warnings.append("\(n.label) left in float: weight '\(n.inputs[1])' is not a float initializer"); continue
            }
            if n.opType == "Gemm", case .int(let t)? = n.attributes["transA"], t != 0 {
                summary.warnings.append("\(n.label) left in float: transA=1 is not supported"); continue
            }
            if (n.opType == "MatMul" || n.opType == "Gemm") && w.rank != 2 || n.opType == "Conv" && w.rank < 3 {
                summary.warnings.append("\(n.label) left in float: weight rank \(w.rank)"); continue
            }
            targets.append(Target(node: n, weight: w, x: n.inputs[0], y: n.outputs[0]))
        }
        // Calibrate: activations in (and out, for QOperator) of every target.
        var names = Set(targets.map(\.x))
        if format == .qoperator { names.formUnion(targets.map(\.y)) }
        let ranges = try calibrate(model, tensors: names.sorted(), calibration: calibration, method: method, progress: progress)

        var ed = GraphEditor(g)
        var qdqCache: [String: String] = [:]
        var replaced: [String: [Node]] = [:]
        for t in targets {
            guard let r = ranges[t.x] else { continue }
            let nodes = try format == .qdq ? qdq(t, r, &ed, &qdqCache, options) : qop(t, r, ranges[t.y] ?? (0, 0), &ed, options)
            replaced[t.node.name + "\u{0}" + t.y] = nodes
            summary.quantized.append(t.node.name)
        }
        var nodes: [Node] = []
        for k in topologicalOrder(g) {
            let n = g.nodes[k]
            if let r = replaced[n.name + "\u{0}" + (n.outputs.first ?? "")] { nodes += r } else { nodes.append(n) }
        }
        ed.graph.nodes = nodes
        ed.removeUnusedInitializers()
        var out = model
        out.graph = ed.graph
        // Per-axis QuantizeLinear/DequantizeLinear need opset 13.
        if (out.opsets[""] ?? 0) < 13 && !summary.quantized.isEmpty { out.opsets[""] = 13 }
        out.producerName = "onyx quantize"
        return (out, summary)
    }

    /// Runs the float model over the calibration set and returns each tensor's calibrated range.
    static func calibrate(_ model: Model, tensors: [String], calibration: CalibrationSet, method: CalibrationMethod,
                          progress: (Int, Int) -> Void) throws -> [String: (Float, Float)] {
        var m = model
        let existing = Set(m.graph.outputs.map(\.name))
        let inputs = Set(m.graph.inputs.map(\.name))
        for t in tensors where !existing.contains(t) && !inputs.contains(t) { m.graph.outputs.append(ValueInfo(name: t, type: .unknown)) }
        let session = try InferenceSession(model: m)
        let passes = method == .minmax ? 1 : 2
        let total = calibration.count * passes
        var c = RangeCollector()
        var done = 0
        for pass in 0..<passes {
            for f in calibration.feeds {
                let outs = try session.run(f, outputNames: tensors.filter { !inputs.contains($0) })
                for name in tensors {
                    guard let t = outs[name] ?? f[name], t.dtype.isFloatingPoint else { continue }
                    let v = try floatValues(t)
                    if pass == 0 { c.observeRange(name, v) } else { c.observeHistogram(name, v) }
                }
                done += 1
                progress(done, total)
            }
        }
        var out: [String: (Float, Float)] = [:]
        for n in tensors { out[n] = c.range(n, method: method) }
        return out
    }

    /// uint8 asymmetric scale and zero point for a range containing 0.
    static func uint8Params(_ r: (Float, Float)) -> (Float, UInt8) {
        let (lo, hi) = (min(r.0, 0), max(r.1, 0))
        guard hi > lo else { return (1, 0) }
        let s = (hi - lo) / 255
        let zp = max(0, min(255, (-lo / s).rounded(.toNearestOrEven)))
        return (s, UInt8(zp))
    }

    /// Weight values in [K, N] (MatMul layout) or [M, …] (Conv), the per-channel axis, and Gemm's folded bias.
    static func weightLayout(_ t: Target, _ ed: GraphEditor) throws -> (values: [Float], shape: [Int], axis: Int, bias: Tensor?) {
        var v = try floatValues(t.weight)
        var shape = t.weight.shape
        let n = t.node
        var bias: Tensor? = nil
        switch n.opType {
        case "Gemm":
            var alpha: Float = 1, beta: Float = 1
            if case .float(let a)? = n.attributes["alpha"] { alpha = a }
            if case .float(let b)? = n.attributes["beta"] { beta = b }
            if case .int(let tb)? = n.attributes["transB"], tb != 0 {
                let (r, c) = (shape[0], shape[1])
                var tw = [Float](repeating: 0, count: v.count)
                for i in 0..<r { for j in 0..<c { tw[j * r + i] = v[i * c + j] } }
                v = tw; shape = [c, r]
            }
            if alpha != 1 { v = v.map { $0 * alpha } }
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                guard let c = ed.constant(n.inputs[2]), c.dtype == .float32 else {
                    throw CompressError("bias '\(n.inputs[2])' is not a float initializer")
                }
                bias = Tensor(shape: c.shape, checkedValues: try floatValues(c).map { $0 * beta })
            }
            return (v, shape, 1, bias)
        case "Conv":
            if n.inputs.count > 2, !n.inputs[2].isEmpty {
                guard let b = ed.constant(n.inputs[2]), b.dtype == .float32, b.count == shape[0] else {
                    throw CompressError("bias '\(n.inputs[2])' is not a float initializer")
                }
                bias = b
            }
            return (v, shape, 0, bias)
        default:
            return (v, shape, 1, nil)
        }
    }

    /// QDQ: x → Q → DQ, int8 W → DQ, then the original float op (Gemm becomes MatMul + Add).
    static func qdq(_ t: Target, _ r: (Float, Float), _ ed: inout GraphEditor, _ cache: inout [String: String],
                    _ options: QuantizeOptions) throws -> [Node] {
        var nodes: [Node] = []
        let base = t.node.name.isEmpty ? t.y : t.node.name
        let xdq: String
        if let c = cache[t.x] { xdq = c } else {
            let (s, zp) = uint8Params(r)
            let sn = ed.addInitializer(t.x + "_scale", Tensor(scalar: s))
            let zn = ed.addInitializer(t.x + "_zero_point", Tensor(scalar: zp))
            let q = ed.unique(t.x + "_QuantizeLinear_Output"), d = ed.unique(t.x + "_DequantizeLinear_Output")
            nodes.append(Node(name: ed.unique(t.x + "_QuantizeLinear"), opType: "QuantizeLinear", inputs: [t.x, sn, zn], outputs: [q]))
            nodes.append(Node(name: ed.unique(t.x + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [q, sn, zn], outputs: [d]))
            cache[t.x] = d
            xdq = d
        }
        let lay = try weightLayout(t, ed)
        let qw = quantizeSymmetric(lay.values, shape: lay.shape, axis: lay.axis, perChannel: options.perChannel)
        let wq = ed.addInitializer(t.node.inputs[1] + "_quantized", Tensor(shape: lay.shape, checkedValues: qw.values))
        let ws = ed.addInitializer(t.node.inputs[1] + "_scale", Tensor(shape: qw.scales.count == 1 ? [] : [qw.scales.count], checkedValues: qw.scales))
        let wz = ed.addInitializer(t.node.inputs[1] + "_zero_point",
                                   Tensor(shape: qw.scales.count == 1 ? [] : [qw.scales.count], checkedValues: [Int8](repeating: 0, count: qw.scales.count)))
        let wdq = ed.unique(t.node.inputs[1] + "_DequantizeLinear_Output")
        nodes.append(Node(name: ed.unique(t.node.inputs[1] + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [wq, ws, wz],
                          outputs: [wdq], attributes: qw.scales.count == 1 ? [:] : ["axis": .int(lay.axis)]))
        switch t.node.opType {
        case "Gemm":
            if let b = lay.bias {
                let mm = ed.unique(base + "_matmul_output")
                nodes.append(Node(name: ed.unique(base + "_matmul"), opType: "MatMul", inputs: [xdq, wdq], outputs: [mm]))
                let bn = ed.addInitializer(t.node.inputs[2] + "_bias", b)
                nodes.append(Node(name: ed.unique(base + "_bias_add"), opType: "Add", inputs: [mm, bn], outputs: [t.y]))
            } else {
                nodes.append(Node(name: t.node.name, opType: "MatMul", inputs: [xdq, wdq], outputs: [t.y]))
            }
        default:
            var n = t.node
            n.inputs[0] = xdq
            n.inputs[1] = wdq
            nodes.append(n)
        }
        return nodes
    }

    /// QOperator: QuantizeLinear → QLinearMatMul / QLinearConv (int32 bias) → DequantizeLinear (+ Add for Gemm bias).
    static func qop(_ t: Target, _ r: (Float, Float), _ ry: (Float, Float), _ ed: inout GraphEditor,
                    _ options: QuantizeOptions) throws -> [Node] {
        var nodes: [Node] = []
        let base = t.node.name.isEmpty ? t.y : t.node.name
        let lay = try weightLayout(t, ed)
        var ry = ry
        if t.node.opType != "Conv", let b = lay.bias {
            // The integer product excludes Gemm's bias (added after DequantizeLinear): widen the range to cover it.
            let bv = try floatValues(b)
            ry = (ry.0 - (bv.max() ?? 0), ry.1 - (bv.min() ?? 0))
        }
        let (xs, xz) = uint8Params(r), (ys, yz) = uint8Params(ry)
        let xsn = ed.addInitializer(t.x + "_scale", Tensor(scalar: xs)), xzn = ed.addInitializer(t.x + "_zero_point", Tensor(scalar: xz))
        let ysn = ed.addInitializer(t.y + "_scale", Tensor(scalar: ys)), yzn = ed.addInitializer(t.y + "_zero_point", Tensor(scalar: yz))
        let xq = ed.unique(t.x + "_quantized")
        nodes.append(Node(name: ed.unique(t.x + "_QuantizeLinear"), opType: "QuantizeLinear", inputs: [t.x, xsn, xzn], outputs: [xq]))
        // QLinearMatMul's per-column weight scales are not universally supported: per-channel only for Conv.
        let qw = quantizeSymmetric(lay.values, shape: lay.shape, axis: lay.axis, perChannel: options.perChannel && t.node.opType == "Conv")
        let wq = ed.addInitializer(t.node.inputs[1] + "_quantized", Tensor(shape: lay.shape, checkedValues: qw.values))
        let cshape = qw.scales.count == 1 ? [Int]() : [qw.scales.count]
        let ws = ed.addInitializer(t.node.inputs[1] + "_scale", Tensor(shape: cshape, checkedValues: qw.scales))
        let wz = ed.addInitializer(t.node.inputs[1] + "_zero_point", Tensor(shape: cshape, checkedValues: [Int8](repeating: 0, count: qw.scales.count)))
        let yq = ed.unique(t.y + "_quantized")
        var addBias: Tensor? = nil
        if t.node.opType == "Conv" {
            var inputs = [xq, xsn, xzn, wq, ws, wz, ysn, yzn]
            if let b = lay.bias {
                let bv = try floatValues(b)
                let q = bv.enumerated().map { c, v -> Int32 in
                    let s = Double(xs) * Double(qw.scales[qw.scales.count == 1 ? 0 : c])
                    let q = (Double(v) / s).rounded(.toNearestOrEven)
                    // Clamp in Double (exact for ±(2^31 − 1)); NaN becomes 0 rather than trapping.
                    return q.isNaN ? 0 : Int32(max(-2_147_483_647, min(2_147_483_647, q)))
                }
                inputs.append(ed.addInitializer(t.node.inputs[2] + "_quantized", Tensor(shape: [q.count], checkedValues: q)))
            }
            nodes.append(Node(name: ed.unique(base + "_quant"), opType: "QLinearConv", inputs: inputs, outputs: [yq],
                              attributes: t.node.attributes))
        } else {
            nodes.append(Node(name: ed.unique(base + "_quant"), opType: "QLinearMatMul",
                              inputs: [xq, xsn, xzn, wq, ws, wz, ysn, yzn], outputs: [yq]))
            addBias = lay.bias
        }
        if let b = addBias {
            let d = ed.unique(base + "_dequantized")
            nodes.append(Node(name: ed.unique(t.y + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [yq, ysn, yzn], outputs: [d]))
            let bn = ed.addInitializer(t.node.inputs[2] + "_bias", b)
            nodes.append(Node(name: ed.unique(base + "_bias_add"), opType: "Add", inputs: [d, bn], outputs: [t.y]))
        } else {
            nodes.append(Node(name: ed.unique(t.y + "_DequantizeLinear"), opType: "DequantizeLinear", inputs: [yq, ysn, yzn], outputs: [t.y]))
        }
        return nodes
    }
}
