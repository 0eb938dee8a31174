import Foundation
import OnyxTensor
import OnyxEngine

/// Options shared by the quantizers.
public struct QuantizeOptions: Sendable {
    /// Node names left in float.
    public var exclude: Set<String> = []
    /// One weight scale per output channel (MatMul/Gemm columns, Conv output channels) instead of one per tensor.
    public var perChannel = false
    /// Op types considered for quantization.
    public var opTypes: Set<String> = ["MatMul", "Gemm", "Conv"]
    public init() {}
}

/// What a quantizer did: quantized node names and warnings for nodes left in float.
public struct QuantizeSummary: Sendable {
    public var quantized: [String] = []
    public var warnings: [String] = []
}

/// Symmetric int8 weights: values in [-127, 127], zero point 0 (as ONNX Runtime's QInt8 symmetric weights).
struct QuantizedWeight {
    var values: [Int8]
    /// One scale, or one per channel along `axis`.
    var scales: [Float]
}

/// Quantizes `w` (row-major, `shape`) per tensor or per channel along `axis`.
func quantizeSymmetric(_ w: [Float], shape: [Int], axis: Int?, perChannel: Bool) -> QuantizedWeight {
    let n = w.count
    guard perChannel, let axis, axis < shape.count, shape[axis] > 0 else {
        let m = w.reduce(Float(0)) { max($0, abs($1)) }
        let s = m > 0 ? m / 127 : 1
        return QuantizedWeight(values: w.map { q8($0 / s) }, scales: [s])
    }
    let c = shape[axis]
    let inner = shape[(axis + 1)...].reduce(1, *)
    var maxes = [Float](repeating: 0, count: c)
    for i in 0..<n { let ch = (i / inner) % c; maxes[ch] = max(maxes[ch], abs(w[i])) }
    let scales = maxes.map { $0 > 0 ? $0 / 127 : 1 }
    var q = [Int8](repeating: 0, count: n)
    for i in 0..<n { q[i] = q8(w[i] / scales[(i / inner) % c]) }
    return QuantizedWeight(values: q, scales: scales)
}

@inline(__always) func q8(_ x: Float) -> Int8 {
    let r = x.rounded(.toNearestOrEven)
    return r.isNaN ? 0 : Int8(max(-127, min(127, r)))
}

/// Dynamic int8 quantization in the layout of ONNX Runtime's `quantize_dynamic` (QOperator):
/// `DynamicQuantizeLinear(x)` → `MatMulInteger`/`ConvInteger` with int8 weight initializers → `Cast` to float →
/// `Mul` by `x_scale · w_scale` → `Add` bias. Only standard ONNX operators, so other runtimes run the result.
public enum DynamicQuantizer {
    public static func quantize(_ model: Model, options: QuantizeOptions = QuantizeOptions()) throws -> (Model, QuantizeSummary) {
        let defaultOpset = model.opset(for: "") ?? 0
        guard defaultOpset >= 1 else { throw CompressError("the model imports no default-domain opset") }
        var ed = GraphEditor(model.graph)
        var summary = QuantizeSummary()
        var dq: [String: (q: String, scale: String, zp: String)] = [:]
        var newNodes: [Node] = []
        for k in topologicalOrder(model.graph) {
            let node = model.graph.nodes[k]
            guard node.domain.isEmpty, options.opTypes.contains(node.opType) else { newNodes.append(node); continue }
            if options.exclude.contains(node.name) { newNodes.append(node); continue }
            do {
                let repl = try rewrite(node, &ed, &dq, options)
                newNodes += repl
                summary.quantized.append(node.name)
            } catch let e as CompressError {
                summary.warnings.append("\(node.label) left in float: \(e.message)")
                newNodes.append(node)
            }
        }
        ed.graph.nodes = newNodes
        ed.removeUnusedInitializers()
        var out = model
        out.graph = ed.graph
        // MatMulInteger/ConvInteger/DynamicQuantizeLinear need opset 10/11.
        if !summary.quantized.isEmpty && defaultOpset < 11 { out.opsets[""] = 11 }
        out.producerName = "onyx quantize"
        return (out, summary)
    }

    static func rewrite(_ node: Node, _ ed: inout GraphEditor, _ dq: inout [String: (q: String, scale: String, zp: String)],
                        _ options: QuantizeOptions) throws -> [Node] {
        guard node.inputs.count >= 2, let x = node.inputs.first, !x.isEmpty, node.outputs.count == 1 else {
            throw CompressError("unexpected inputs/outputs")
        }
        guard let w = ed.constant(node.inputs[1]) else {
            throw CompressError("weight '\(node.inputs[1])' is not an initializer")
        }
        guard w.dtype == .float32 else { throw CompressError("weight '\(node.inputs[1])' is \(w.dtype), only float is quantized") }
        let wv = try floatValues(w)
        let base = node.name.isEmpty ? node.outputs[0] : node.name
        var nodes: [Node] = []
        var weightShape = w.shape
        var weights = wv
        var axis: Int
        var bias: (name: String, tensor: Tensor)? = nil
        switch node.opType {
        case "MatMul":
            guard w.rank == 2 else { throw CompressError("weight rank \(w.rank) (2 expected)") }
            axis = 1
        case "Gemm":
            guard w.rank == 2 else { throw CompressError("weight rank \(w.rank) (2 expected)") }
            if case .int(let t)? = node.attributes["transA"], t != 0 { throw CompressError("transA=1 is not supported") }
            var alpha: Float = 1, beta: Float = 1
            if case .float(let a)? = node.attributes["alpha"] { alpha = a }
            if case .float(let b)? = node.attributes["beta"] { beta = b }
            if case .int(let t)? = node.attributes["transB"], t != 0 {
                // Store B transposed once so MatMulInteger sees [K, N].
                let n = w.shape[0], kk = w.shape[1]
                var tw = [Float](repeating: 0, count: wv.count)
                for i in 0..<n { for j in 0..<kk { tw[j * n + i] = wv[i * kk + j] } }
                weights = tw
                weightShape = [kk, n]
            }
            if alpha != 1 { weights = weights.map { $0 * alpha } }
            axis = 1
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                guard let c = ed.constant(node.inputs[2]), c.dtype == .float32 else {
                    throw CompressError("bias '\(node.inputs[2])' is not a float initializer")
                }
                let cv = try floatValues(c).map { $0 * beta }
                bias = (node.inputs[2], Tensor(shape: c.shape, checkedValues: cv))
            }
        case "Conv":
            guard w.rank >= 3 else { throw CompressError("weight rank \(w.rank) (≥ 3 expected)") }
            axis = 0
            if node.inputs.count > 2, !node.inputs[2].isEmpty {
                guard let b = ed.constant(node.inputs[2]), b.dtype == .float32, b.count == w.shape[0] else {
                    throw CompressError("bias '\(node.inputs[2])' is not a float initializer of \(w.shape[0]) values")
                }
                // [M] → [M, 1, ...] to broadcast over the output's channel axis.
                let bshape = [w.shape[0]] + [Int](repeating: 1, count: w.rank - 2)
                bias = (node.inputs[2], try b.reshaped(bshape))
            }
        default:
            throw CompressError("unsupported op")
        }
        let q = quantizeSymmetric(weights, shape: weightShape, axis: axis, perChannel: options.perChannel)
        let wq = ed.addInitializer(node.inputs[1] + "_quantized", Tensor(shape: weightShape, checkedValues: q.values))
        let wzp = ed.addInitializer(node.inputs[1] + "_zero_point", Tensor(scalar: Int8(0)))
        var scaleShape: [Int] = q.scales.count == 1 ? [] : [q.scales.count]
        if node.opType == "Conv" && q.scales.count > 1 { scaleShape += [Int](repeating: 1, count: w.rank - 2) }
        let ws = ed.addInitializer(node.inputs[1] + "_scale", Tensor(shape: scaleShape, checkedValues: q.scales))

        let xq: (q: String, scale: String, zp: String)
        if let c = dq[x] { xq = c } else {
            xq = (ed.unique(x + "_quantized"), ed.unique(x + "_scale"), ed.unique(x + "_zero_point"))
            nodes.append(Node(name: ed.unique(x + "_QuantizeLinear"), opType: "DynamicQuantizeLinear",
                              inputs: [x], outputs: [xq.q, xq.scale, xq.zp]))
            dq[x] = xq
        }
        let integer = ed.unique(base + "_output_quantized")
        if node.opType == "Conv" {
            var attrs = node.attributes
            attrs.removeValue(forKey: "activation")
            nodes.append(Node(name: ed.unique(base + "_quant"), opType: "ConvInteger",
                              inputs: [xq.q, wq, xq.zp, wzp], outputs: [integer], attributes: attrs))
        } else {
            nodes.append(Node(name: ed.unique(base + "_quant"), opType: "MatMulInteger",
                              inputs: [xq.q, wq, xq.zp, wzp], outputs: [integer]))
        }
        let cast = ed.unique(base + "_output_quantized_cast_output")
        nodes.append(Node(name: ed.unique(base + "_output_quantized_cast"), opType: "Cast", inputs: [integer],
                          outputs: [cast], attributes: ["to": .int(DType.float32.rawValue)]))
        let scales = ed.unique(base + "_scales_mul")
        nodes.append(Node(name: ed.unique(base + "_scales_mul_node"), opType: "Mul", inputs: [xq.scale, ws], outputs: [scales]))
        let final = node.outputs[0]
        if let bias {
            let scaled = ed.unique(base + "_output_scaled")
            nodes.append(Node(name: ed.unique(base + "_output_scale_mul"), opType: "Mul", inputs: [cast, scales], outputs: [scaled]))
            let bname = ed.addInitializer(bias.name + "_bias", bias.tensor)
            nodes.append(Node(name: ed.unique(base + "_bias_add"), opType: "Add", inputs: [scaled, bname], outputs: [final]))
        } else {
            nodes.append(Node(name: ed.unique(base + "_output_scale_mul"), opType: "Mul", inputs: [cast, scales], outputs: [final]))
        }
        return nodes
    }
}
