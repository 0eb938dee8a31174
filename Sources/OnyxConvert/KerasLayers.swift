import Foundation
import OnyxTensor
import OnyxEngine

/// Keras layer → ONNX node mappings.
enum KerasLayers {
    static let noOps: Set<String> = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D",
                                     "GaussianNoise", "GaussianDropout", "AlphaDropout", "ActivityRegularization",
                                     "Masking"]
    static let supported: Set<String> = noOps.union([
        "InputLayer", "Dense", "Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "Softmax",
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "DepthwiseConv1D", "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D",
        "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D",
        "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
        "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D",
        "BatchNormalization", "LayerNormalization", "Flatten", "Reshape", "Permute", "RepeatVector",
        "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D", "Cropping1D", "Cropping2D", "Cropping3D",
        "UpSampling1D", "UpSampling2D", "UpSampling3D",
        "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate",
        "Embedding", "Rescaling", "Normalization", "LSTM", "GRU", "SimpleRNN", "Bidirectional",
    ]).union(KerasWrappers.classes)

    static func convert(_ b: KerasGraphBuilder, cls: String, name: String, cfg c: LayerConfig, inputs: [KT],
                        weights: KerasWeights?) throws -> [KT] {
        let w = weights?.all ?? []
        func one() throws -> KT {
            guard inputs.count == 1 else { throw ConvertError("expected 1 input, got \(inputs.count)") }
            return inputs[0]
        }
        func weight(_ i: Int, _ what: String) throws -> Tensor {
            guard i < w.count else { throw ConvertError("missing weight \(i) (\(what)); the file has \(w.count)") }
            return w[i]
        }
        if noOps.contains(cls) { return [try one()] }
        if KerasWrappers.classes.contains(cls) {
            return try KerasWrappers.convert(b, cls: cls, name: name, cfg: c, inputs: inputs, weights: weights)
        }
        switch cls {
        case "Dense":
            var x = b.keras(try one(), "\(name)/to_channels_last")
            let k = try weight(0, "kernel")
            guard k.rank == 2 else { throw ConvertError("kernel has rank \(k.rank), expected 2") }
            x.name = b.op1("MatMul", [x.name, b.const(k, "\(name)/kernel")], name: name)
            if c.bool("use_bias", true) {
                x.name = b.op1("Add", [x.name, b.const(try weight(1, "bias"), "\(name)/bias")], name: name)
            }
            return [try activation(b, x, c.d["activation"], name: name)]
        case "Activation":
            return [try activation(b, try one(), c.d["activation"], name: name)]
        case "ReLU":
            var x = try one()
            let slope = c.float("negative_slope", 0), thr = c.float("threshold", 0)
            guard thr == 0 else { throw ConvertError("ReLU with a non-zero threshold is not supported") }
            x.name = slope == 0 ? b.op1("Relu", [x.name], name: name)
                : b.op1("LeakyRelu", [x.name], ["alpha": .float(slope)], name: name)
            if let m = c.double("max_value") { x.name = try clip(b, x.name, slope == 0 ? 0 : nil, Float(m), name: name) }
            return [x]
        case "LeakyReLU":
            var x = try one()
            let a = c.has("negative_slope") ? c.float("negative_slope", 0.3) : c.float("alpha", 0.3)
            x.name = b.op1("LeakyRelu", [x.name], ["alpha": .float(a)], name: name)
            return [x]
        case "ELU":
            var x = try one()
            x.name = b.op1("Elu", [x.name], ["alpha": .float(c.float("alpha", 1))], name: name)
            return [x]
        case "Softmax":
            var x = try one()
            let axis = (c.d["axis"] as? [Any]).flatMap { $0.count == 1 ? ($0[0] as? NSNumber)?.intValue : nil }
                ?? c.int("axis") ?? -1
            x.name = b.op1("Softmax", [x.name], ["axis": .int(try b.physAxis(x, axis))], name: name)
            return [x]
        case "PReLU":
            var x = try one()
            var alpha = try weight(0, "alpha")
            if x.cf && x.rank >= 3 && alpha.rank == x.rank - 1 {
                let r = alpha.rank
                alpha = try transposed(alpha, perm: [r - 1] + Array(0..<(r - 1)))
            }
            x.name = b.op1("PRelu", [x.name, b.const(alpha, "\(name)/alpha")], name: name)
            return [x]
        case "Conv1D", "Conv2D", "Conv3D":
            return [try conv(b, try one(), c, w, n: Int(String(cls.dropFirst(4).prefix(1))) ?? 2, name: name)]
        case "DepthwiseConv1D", "DepthwiseConv2D":
            return [try depthwise(b, try one(), c, w, n: cls == "DepthwiseConv1D" ? 1 : 2, name: name)]
        case "SeparableConv1D", "SeparableConv2D":
            return [try separable(b, try one(), c, w, n: cls == "SeparableConv1D" ? 1 : 2, name: name)]
        case "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose":
            return [try convTranspose(b, try one(), c, w, n: Int(String(cls.dropFirst(4).prefix(1))) ?? 2, name: name)]
        case "MaxPooling1D", "MaxPooling2D", "MaxPooling3D", "AveragePooling1D", "AveragePooling2D", "AveragePooling3D":
            let n = Int(String(cls.suffix(2).prefix(1))) ?? 2
            return [try pool(b, try one(), c, n: n, max: cls.hasPrefix("Max"), name: name)]
        case "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalMaxPooling3D",
             "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalAveragePooling3D":
            let x = try one()
            guard x.rank >= 3 else { throw ConvertError("input has rank \(x.rank), expected at least 3") }
            let keep = c.bool("keepdims", false)
            let axes = try spatialAxes(c, rank: x.rank).map { try b.physAxis(x, $0) }
            let out = b.reduce(cls.hasPrefix("GlobalMax") ? "ReduceMax" : "ReduceMean", x.name, axes: axes,
                               keepdims: keep, name: name)
            return [keep ? KT(name: out, rank: x.rank, cf: x.cf) : KT(name: out, rank: 2)]
        case "BatchNormalization":
            return [try batchNorm(b, try one(), c, w, name: name)]
        case "LayerNormalization":
            return [try layerNorm(b, try one(), c, w, name: name)]
        case "Flatten":
            var x = b.keras(try one(), "\(name)/to_channels_last")
            if c.string("data_format") == "channels_first" && x.rank >= 3 {
                // Keras moves the channels last before flattening (weight order of channels_last models).
                x.name = b.op1("Transpose", [x.name], ["perm": .ints(KerasGraphBuilder.fromCFPerm(x.rank))], name: name)
            }
            x.name = b.op1("Flatten", [x.name], ["axis": .int(1)], name: name)
            x.rank = 2
            return [x]
        case "Reshape":
            var x = b.keras(try one(), "\(name)/to_channels_last")
            guard let target = c.d["target_shape"] as? [Any] else { throw ConvertError("no target_shape") }
            let dims = target.map { ($0 as? NSNumber)?.intValue ?? -1 }
            x.name = b.op1("Reshape", [x.name, b.ints([0] + dims, "\(name)/shape")], name: name)
            x.rank = dims.count + 1
            return [x]
        case "Permute":
            var x = b.keras(try one(), "\(name)/to_channels_last")
            guard let dims = try c.ints("dims", x.rank - 1), Set(dims) == Set(1..<x.rank) else {
                throw ConvertError("dims is not a permutation of 1...\(x.rank - 1)")
            }
            x.name = b.op1("Transpose", [x.name], ["perm": .ints([0] + dims)], name: name)
            return [x]
        case "RepeatVector":
            let x = b.keras(try one(), "\(name)/to_channels_last")
            guard x.rank == 2, let n = c.int("n") else { throw ConvertError("expects a rank-2 input and n") }
            let u = b.unsqueeze(x.name, axes: [1], name: name)
            return [KT(name: b.op1("Expand", [u, b.ints([1, n, 1], "\(name)/shape")], name: name), rank: 3)]
        case "ZeroPadding1D", "ZeroPadding2D", "ZeroPadding3D":
            return [try zeroPad(b, try one(), c, n: Int(String(cls.dropFirst(11).prefix(1))) ?? 2, name: name)]
        case "Cropping1D", "Cropping2D", "Cropping3D":
            return [try crop(b, try one(), c, n: Int(String(cls.dropFirst(8).prefix(1))) ?? 2, name: name)]
        case "UpSampling1D", "UpSampling2D", "UpSampling3D":
            return [try upsample(b, try one(), c, n: Int(String(cls.dropFirst(10).prefix(1))) ?? 2, name: name)]
        case "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate":
            return [try merge(b, cls, inputs, c, name: name)]
        case "Embedding":
            let x = try one()
            var idx = b.keras(x, "\(name)/to_channels_last").name
            idx = b.op1("Cast", [idx], ["to": .int(DType.int64.rawValue)], name: name)
            let out = b.op1("Gather", [b.const(try weight(0, "embeddings"), "\(name)/embeddings"), idx],
                            ["axis": .int(0)], name: name)
            return [KT(name: out, rank: x.rank + 1)]
        case "Rescaling":
            var x = try one()
            let scale = try floatsOf(c.d["scale"] ?? 1.0), offset = try floatsOf(c.d["offset"] ?? 0.0)
            if scale.count > 1 || offset.count > 1 { x = b.keras(x, "\(name)/to_channels_last") }
            if x.isInt {
                x.name = b.op1("Cast", [x.name], ["to": .int(DType.float32.rawValue)], name: name)
                x.isInt = false
            }
            x.name = b.op1("Mul", [x.name, try b.floats(scale, shape: [scale.count], "\(name)/scale")], name: name)
            x.name = b.op1("Add", [x.name, try b.floats(offset, shape: [offset.count], "\(name)/offset")], name: name)
            return [x]
        case "Normalization":
            return [try normalization(b, try one(), c, w, name: name)]
        case "LSTM", "GRU", "SimpleRNN":
            return try KerasRNN.rnn(b, cls, try one(), c, weights, name: name)
        case "Bidirectional":
            return try KerasRNN.bidirectional(b, try one(), c, weights, name: name)
        default:
            throw ConvertError("unsupported layer class '\(cls)'")
        }
    }

    static func floatsOf(_ v: Any) throws -> [Float] {
        if let n = v as? NSNumber { return [n.floatValue] }
        if let a = v as? [Any] { return try a.flatMap { try floatsOf($0) } }
        throw ConvertError("expected a number or a list of numbers")
    }

    // MARK: Activations

    static func clip(_ b: KerasGraphBuilder, _ x: String, _ lo: Float?, _ hi: Float?, name: String) throws -> String {
        let l = try lo.map { try b.floats([$0], shape: [], "\(name)/min") } ?? ""
        let h = try hi.map { try b.floats([$0], shape: [], "\(name)/max") } ?? ""
        return b.op1("Clip", [x, l, h], name: name)
    }

    static func activation(_ b: KerasGraphBuilder, _ x: KT, _ spec: Any?, name: String) throws -> KT {
        var a: String
        if spec == nil || spec is NSNull { return x }
        if let s = spec as? String { a = s } else if let d = spec as? [String: Any], let s = d["config"] as? String {
            a = s
        } else if let d = spec as? [String: Any], let s = (d["config"] as? [String: Any])?["name"] as? String {
            a = s
        } else {
            throw ConvertError("activation \(String(describing: spec)) is not a built-in activation")
        }
        if a.hasPrefix("keras.activations.") { a = String(a.dropFirst("keras.activations.".count)) }
        var y = x
        let n = "\(name)/\(a)"
        let v = x.name
        func scalar(_ f: Float, _ s: String) throws -> String { try b.floats([f], shape: [], "\(n)/\(s)") }
        switch a {
        case "linear": return x
        case "relu": y.name = b.op1("Relu", [v], name: n)
        case "relu6": y.name = try clip(b, v, 0, 6, name: n)
        case "leaky_relu": y.name = b.op1("LeakyRelu", [v], ["alpha": .float(0.2)], name: n)
        case "elu": y.name = b.op1("Elu", [v], ["alpha": .float(1)], name: n)
        case "selu":
            y.name = b.op1("Selu", [v], ["alpha": .float(1.67326324), "gamma": .float(1.05070098)], name: n)
        case "celu": y.name = b.op1("Celu", [v], ["alpha": .float(1)], name: n)
        case "gelu":
            // Exact: 0.5 x (1 + erf(x / sqrt 2)).
            let e = b.op1("Erf", [b.op1("Mul", [v, try scalar(Float(1 / 2.0.squareRoot()), "rsqrt2")], name: n)], name: n)
            let s = b.op1("Add", [e, try scalar(1, "one")], name: n)
            y.name = b.op1("Mul", [b.op1("Mul", [v, s], name: n), try scalar(0.5, "half")], name: n)
        case "gelu_approximate", "gelu_tanh":
            let x3 = b.op1("Mul", [b.op1("Mul", [v, v], name: n), v], name: n)
            let inner = b.op1("Add", [v, b.op1("Mul", [x3, try scalar(0.044715, "c")], name: n)], name: n)
            let t = b.op1("Tanh", [b.op1("Mul", [inner, try scalar(Float((2 / Double.pi).squareRoot()), "k")], name: n)], name: n)
            let s = b.op1("Add", [t, try scalar(1, "one")], name: n)
            y.name = b.op1("Mul", [b.op1("Mul", [v, s], name: n), try scalar(0.5, "half")], name: n)
        case "sigmoid": y.name = b.op1("Sigmoid", [v], name: n)
        case "hard_sigmoid": y.name = b.op1("HardSigmoid", [v], ["alpha": .float(1.0 / 6), "beta": .float(0.5)], name: n)
        case "hard_silu", "hard_swish":
            y.name = b.op1("Mul", [v, b.op1("HardSigmoid", [v], ["alpha": .float(1.0 / 6), "beta": .float(0.5)], name: n)], name: n)
        case "tanh": y.name = b.op1("Tanh", [v], name: n)
        case "softmax", "log_softmax":
            y.name = b.op1(a == "softmax" ? "Softmax" : "LogSoftmax", [v], ["axis": .int(try b.physAxis(x, -1))], name: n)
        case "softplus": y.name = b.op1("Softplus", [v], name: n)
        case "softsign": y.name = b.op1("Softsign", [v], name: n)
        case "silu", "swish": y.name = b.op1("Mul", [v, b.op1("Sigmoid", [v], name: n)], name: n)
        case "exponential": y.name = b.op1("Exp", [v], name: n)
        case "mish": y.name = b.op1("Mul", [v, b.op1("Tanh", [b.op1("Softplus", [v], name: n)], name: n)], name: n)
        case "hard_tanh": y.name = try clip(b, v, -1, 1, name: n)
        case "log_sigmoid": y.name = b.op1("Neg", [b.op1("Softplus", [b.op1("Neg", [v], name: n)], name: n)], name: n)
        case "tanh_shrink": y.name = b.op1("Sub", [v, b.op1("Tanh", [v], name: n)], name: n)
        default: throw ConvertError("activation '\(a)' is not supported")
        }
        return y
    }

    // MARK: Convolutions and pooling

    /// Host-side transpose of a float32 tensor.
    static func transposed(_ t: Tensor, perm: [Int]) throws -> Tensor {
        let src = try t.toArray(Float.self)
        let shape = t.shape, r = shape.count
        guard perm.count == r, Set(perm) == Set(0..<r) else { throw ConvertError("bad permutation \(perm)") }
        let outShape = perm.map { shape[$0] }
        let inStrides = Broadcast.strides(shape)
        var out = [Float](repeating: 0, count: src.count)
        var idx = [Int](repeating: 0, count: r)
        for o in 0..<src.count {
            var s = 0
            for k in 0..<r { s += idx[k] * inStrides[perm[k]] }
            out[o] = src[s]
            var k = r - 1
            while k >= 0 { idx[k] += 1; if idx[k] < outShape[k] { break }; idx[k] = 0; k -= 1 }
        }
        return try Tensor(shape: outShape, values: out)
    }

    /// Keras (logical) spatial axes of a rank-`rank` tensor: 1...rank-2 for channels_last layers, 2...rank-1 for
    /// `data_format="channels_first"` ones.
    static func spatialAxes(_ c: LayerConfig, rank: Int) -> [Int] {
        guard rank >= 3 else { return [] }
        return c.string("data_format") == "channels_first" ? Array(2..<rank) : Array(1..<(rank - 1))
    }

    /// The input of a Conv/pooling layer in the layout ONNX wants (channels-first). A channels_last layer's
    /// tensor is transposed (unless it already is physically channels-first); a channels_first layer's Keras
    /// tensor already is NC..., so it is used in its Keras layout and the result stays in Keras layout.
    static func convInput(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, name: String) -> KT {
        if c.string("data_format") == "channels_first" { return b.keras(input, "\(name)/to_keras_layout") }
        return b.channelsFirst(input, "\(name)/to_channels_first")
    }

    /// Keras kernel (k1..kn, a, b) → ONNX (b, a, k1..kn).
    static func kernelToONNX(_ k: Tensor, n: Int) throws -> Tensor {
        guard k.rank == n + 2 else { throw ConvertError("kernel has rank \(k.rank), expected \(n + 2)") }
        return try transposed(k, perm: [n + 1, n] + Array(0..<n))
    }

    static func spatialAttrs(_ c: LayerConfig, n: Int, kernel: [Int], name: String) throws -> [String: Attribute] {
        guard kernel.count == n else { throw ConvertError("kernel has \(kernel.count) spatial dimensions, expected \(n)") }
        var a: [String: Attribute] = ["kernel_shape": .ints(kernel)]
        a["strides"] = .ints(try c.ints("strides", n) ?? [Int](repeating: 1, count: n))
        let dil = try c.ints("dilation_rate", n) ?? [Int](repeating: 1, count: n)
        a["dilations"] = .ints(dil)
        switch c.string("padding") ?? "valid" {
        case "valid": a["pads"] = .ints([Int](repeating: 0, count: 2 * n))
        case "same":
            let strides = try c.ints("strides", n) ?? [Int](repeating: 1, count: n)
            if strides.allSatisfy({ $0 == 1 }) {
                // Stride 1: the total padding is (k - 1) * d whatever the input size; explicit pads (ONNX Runtime
                // rejects SAME auto_pad with dilations).
                let total = (0..<n).map { (kernel[$0] - 1) * dil[$0] }
                a["pads"] = .ints(total.map { $0 / 2 } + total.map { $0 - $0 / 2 })
            } else {
                a["auto_pad"] = .string("SAME_UPPER")
            }
        case "causal":
            guard n == 1 else { throw ConvertError("causal padding is only for 1-D convolutions") }
            a["pads"] = .ints([(kernel[0] - 1) * dil[0], 0])
        case let p: throw ConvertError("padding '\(p)' is not supported")
        }
        return a
    }

    static func conv(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], n: Int, name: String) throws -> KT {
        guard input.rank == n + 2 else { throw ConvertError("input has rank \(input.rank), expected \(n + 2)") }
        guard let k = w.first else { throw ConvertError("missing kernel") }
        let x = convInput(b, input, c, name: name)
        var attrs = try spatialAttrs(c, n: n, kernel: Array(k.shape.prefix(n)), name: name)
        attrs["group"] = .int(c.int("groups") ?? 1)
        var ins = [x.name, b.const(try kernelToONNX(k, n: n), "\(name)/kernel")]
        if c.bool("use_bias", true) {
            guard w.count > 1 else { throw ConvertError("missing bias") }
            ins.append(b.const(w[1], "\(name)/bias"))
        }
        let y = KT(name: b.op1("Conv", ins, attrs, name: name), rank: x.rank, cf: x.cf)
        return try activation(b, y, c.d["activation"], name: name)
    }

    /// Depthwise kernel (k1..kn, in, mult) → ONNX (in*mult, 1, k1..kn) with group = in.
    static func depthwiseKernel(_ k: Tensor, n: Int) throws -> Tensor {
        guard k.rank == n + 2 else { throw ConvertError("depthwise kernel has rank \(k.rank), expected \(n + 2)") }
        let t = try transposed(k, perm: [n, n + 1] + Array(0..<n))
        return try t.reshaped([k.shape[n] * k.shape[n + 1], 1] + Array(k.shape.prefix(n)))
    }

    static func depthwise(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], n: Int, name: String) throws -> KT {
        guard input.rank == n + 2 else { throw ConvertError("input has rank \(input.rank), expected \(n + 2)") }
        guard let k = w.first, k.rank == n + 2 else { throw ConvertError("missing depthwise kernel, or not of rank \(n + 2)") }
        let x = convInput(b, input, c, name: name)
        var attrs = try spatialAttrs(c, n: n, kernel: Array(k.shape.prefix(n)), name: name)
        attrs["group"] = .int(k.shape[n])
        var ins = [x.name, b.const(try depthwiseKernel(k, n: n), "\(name)/kernel")]
        if c.bool("use_bias", true) {
            guard w.count > 1 else { throw ConvertError("missing bias") }
            ins.append(b.const(w[1], "\(name)/bias"))
        }
        let y = KT(name: b.op1("Conv", ins, attrs, name: name), rank: x.rank, cf: x.cf)
        return try activation(b, y, c.d["activation"], name: name)
    }

    static func separable(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], n: Int, name: String) throws -> KT {
        guard input.rank == n + 2 else { throw ConvertError("input has rank \(input.rank), expected \(n + 2)") }
        guard w.count >= 2 else { throw ConvertError("missing depthwise/pointwise kernels") }
        let dk = w[0], pk = w[1]
        guard dk.rank == n + 2, pk.rank == n + 2 else { throw ConvertError("depthwise/pointwise kernels are not of rank \(n + 2)") }
        let x = convInput(b, input, c, name: name)
        var attrs = try spatialAttrs(c, n: n, kernel: Array(dk.shape.prefix(n)), name: name)
        attrs["group"] = .int(dk.shape[n])
        let d = b.op1("Conv", [x.name, b.const(try depthwiseKernel(dk, n: n), "\(name)/depthwise_kernel")], attrs,
                      name: "\(name)/depthwise")
        var ins = [d, b.const(try kernelToONNX(pk, n: n), "\(name)/pointwise_kernel")]
        if c.bool("use_bias", true) {
            guard w.count > 2 else { throw ConvertError("missing bias") }
            ins.append(b.const(w[2], "\(name)/bias"))
        }
        let p = b.op1("Conv", ins, ["kernel_shape": .ints(Array(pk.shape.prefix(n)))], name: "\(name)/pointwise")
        return try activation(b, KT(name: p, rank: x.rank, cf: x.cf), c.d["activation"], name: name)
    }

    static func convTranspose(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], n: Int, name: String) throws -> KT {
        guard input.rank == n + 2 else { throw ConvertError("input has rank \(input.rank), expected \(n + 2)") }
        guard let k = w.first, k.rank == n + 2 else { throw ConvertError("missing kernel, or not of rank \(n + 2)") }
        let x = convInput(b, input, c, name: name)
        let ks = Array(k.shape.prefix(n))
        let strides = try c.ints("strides", n) ?? [Int](repeating: 1, count: n)
        let dil = try c.ints("dilation_rate", n) ?? [Int](repeating: 1, count: n)
        var attrs: [String: Attribute] = ["kernel_shape": .ints(ks), "strides": .ints(strides), "dilations": .ints(dil)]
        if let op = try c.ints("output_padding", n) { attrs["output_padding"] = .ints(op) }
        switch c.string("padding") ?? "valid" {
        case "valid": attrs["pads"] = .ints([Int](repeating: 0, count: 2 * n))
        case "same":
            // Keras: output = input * stride; the transpose of a SAME convolution pads (keff - s) // 2 first.
            var begin: [Int] = [], end: [Int] = []
            for i in 0..<n {
                let total = max((ks[i] - 1) * dil[i] + 1 - strides[i], 0)
                begin.append(total / 2); end.append(total - total / 2)
            }
            attrs["pads"] = .ints(begin + end)
        case let p: throw ConvertError("padding '\(p)' is not supported")
        }
        var ins = [x.name, b.const(try kernelToONNX(k, n: n), "\(name)/kernel")]
        if c.bool("use_bias", true) {
            guard w.count > 1 else { throw ConvertError("missing bias") }
            ins.append(b.const(w[1], "\(name)/bias"))
        }
        let y = KT(name: b.op1("ConvTranspose", ins, attrs, name: name), rank: x.rank, cf: x.cf)
        return try activation(b, y, c.d["activation"], name: name)
    }

    static func pool(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, n: Int, max: Bool, name: String) throws -> KT {
        guard input.rank == n + 2 else { throw ConvertError("input has rank \(input.rank), expected \(n + 2)") }
        let x = convInput(b, input, c, name: name)
        let size = try c.ints("pool_size", n) ?? [Int](repeating: 2, count: n)
        var attrs: [String: Attribute] = ["kernel_shape": .ints(size),
                                          "strides": .ints(try c.ints("strides", n) ?? size)]
        switch c.string("padding") ?? "valid" {
        case "valid": attrs["pads"] = .ints([Int](repeating: 0, count: 2 * n))
        case "same": attrs["auto_pad"] = .string("SAME_UPPER")
        case let p: throw ConvertError("padding '\(p)' is not supported")
        }
        return KT(name: b.op1(max ? "MaxPool" : "AveragePool", [x.name], attrs, name: name), rank: x.rank, cf: x.cf)
    }

    // MARK: Normalization

    /// Shape of a per-channel constant broadcast along Keras axis `axis` of `x`.
    static func channelShape(_ b: KerasGraphBuilder, _ x: KT, axis: Int, count: Int) throws -> [Int] {
        var s = [Int](repeating: 1, count: x.rank)
        s[try b.physAxis(x, axis)] = count
        return s
    }

    static func singleAxis(_ c: LayerConfig, _ def: Int) throws -> Int {
        if let a = c.int("axis") { return a }
        if let l = c.d["axis"] as? [Any] {
            guard l.count == 1, let a = (l[0] as? NSNumber)?.intValue else { throw ConvertError("only a single axis is supported") }
            return a
        }
        return def
    }

    static func batchNorm(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], name: String) throws -> KT {
        var x = input
        let axis = try singleAxis(c, -1)
        let center = c.bool("center", true), scale = c.bool("scale", true)
        let eps = c.double("epsilon") ?? 1e-3
        guard w.count == 2 + (center ? 1 : 0) + (scale ? 1 : 0) else { throw ConvertError("expected \(2 + (center ? 1 : 0) + (scale ? 1 : 0)) weights, found \(w.count)") }
        var i = 0
        let gamma = scale ? try w[i].toArray(Float.self) : nil; if scale { i += 1 }
        let beta = center ? try w[i].toArray(Float.self) : nil; if center { i += 1 }
        let mean = try w[i].toArray(Float.self), variance = try w[i + 1].toArray(Float.self)
        let n = mean.count
        guard variance.count == n, gamma.map({ $0.count == n }) ?? true, beta.map({ $0.count == n }) ?? true else {
            throw ConvertError("weight sizes do not match")
        }
        var mul = [Float](repeating: 0, count: n), add = [Float](repeating: 0, count: n)
        for j in 0..<n {
            let s = Float(1 / (Double(variance[j]) + eps).squareRoot()) * (gamma?[j] ?? 1)
            mul[j] = s
            add[j] = (beta?[j] ?? 0) - mean[j] * s
        }
        let shape = try channelShape(b, x, axis: axis, count: n)
        x.name = b.op1("Mul", [x.name, try b.floats(mul, shape: shape, "\(name)/scale")], name: name)
        x.name = b.op1("Add", [x.name, try b.floats(add, shape: shape, "\(name)/shift")], name: name)
        return x
    }

    static func layerNorm(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], name: String) throws -> KT {
        var x = b.keras(input, "\(name)/to_channels_last")
        var axes: [Int]
        if let a = c.int("axis") { axes = [a] } else if let l = c.d["axis"] as? [Any] {
            axes = l.compactMap { ($0 as? NSNumber)?.intValue }
        } else { axes = [-1] }
        axes = axes.map { $0 < 0 ? $0 + x.rank : $0 }.sorted()
        guard let first = axes.first, axes == Array(first..<x.rank), first >= 1 else {
            throw ConvertError("only normalization over trailing axes is supported (axis \(axes))")
        }
        if c.bool("rms_scaling", false) { throw ConvertError("rms_scaling is not supported") }
        let center = c.bool("center", true), scale = c.bool("scale", true)
        guard center && scale, w.count == 2 else { throw ConvertError("LayerNormalization without both scale and center is not supported") }
        guard b.opset >= 17 else { throw ConvertError("LayerNormalization needs opset 17 or later") }
        x.name = b.op1("LayerNormalization", [x.name, b.const(w[0], "\(name)/gamma"), b.const(w[1], "\(name)/beta")],
                       ["axis": .int(first), "epsilon": .float(c.float("epsilon", 1e-3))], name: name)
        return x
    }

    static func normalization(_ b: KerasGraphBuilder, _ input: KT, _ c: LayerConfig, _ w: [Tensor], name: String) throws -> KT {
        var x = input
        if x.isInt {
            x.name = b.op1("Cast", [x.name], ["to": .int(DType.float32.rawValue)], name: name)
            x.isInt = false
        }
        let axis = try singleAxis(c, -1)
        var mean: [Float], variance: [Float]
        if c.has("mean") && c.has("variance") {
            mean = try floatsOf(c.d["mean"] as Any); variance = try floatsOf(c.d["variance"] as Any)
        } else {
            guard w.count >= 2 else { throw ConvertError("the layer was never adapted (no mean/variance)") }
            mean = try w[0].toArray(Float.self); variance = try w[1].toArray(Float.self)
        }
        guard mean.count == variance.count else { throw ConvertError("mean and variance sizes differ") }
        if c.bool("invert", false) { throw ConvertError("invert=True is not supported") }
        let n = mean.count
        let denom = variance.map { Swift.max(Float($0).squareRoot(), 1e-7) }
        let shape = n == 1 ? [1] : try channelShape(b, x, axis: axis, count: n)
        x.name = b.op1("Sub", [x.name, try b.floats(mean, shape: shape, "\(name)/mean")], name: name)
        x.name = b.op1("Div", [x.name, try b.floats(denom, shape: shape, "\(name)/std")], name: name)
        return x
    }

    // MARK: Padding, cropping, resampling

    /// Per-spatial-dimension (begin, end) pairs from an int, a list of ints, or a list of pairs.
    static func pairs(_ v: Any?, n: Int) throws -> [(Int, Int)] {
        if let i = (v as? NSNumber)?.intValue { return [(Int, Int)](repeating: (i, i), count: n) }
        guard let a = v as? [Any] else { throw ConvertError("bad padding/cropping spec") }
        if n == 1, a.count == 2, let p = (a[0] as? NSNumber)?.intValue, let q = (a[1] as? NSNumber)?.intValue { return [(p, q)] }
        guard a.count == n else { throw ConvertError("padding/cropping spec has \(a.count) entries, expected \(n)") }
        return try a.map { e in
            if let i = (e as? NSNumber)?.intValue { return (i, i) }
            guard let p = e as? [Any], p.count == 2, let x = (p[0] as? NSNumber)?.intValue,
                  let y = (p[1] as? NSNumber)?.intValue else { throw ConvertError("bad padding/cropping spec") }
            return (x, y)
        }
    }

    static func zeroPad(_ b: KerasGraphBuilder, _ x: KT, _ c: LayerConfig, n: Int, name: String) throws -> KT {
        guard x.rank == n + 2 else { throw ConvertError("input has rank \(x.rank), expected \(n + 2)") }
        let p = try pairs(c.d["padding"], n: n)
        let sp = spatialAxes(c, rank: x.rank)
        var begin = [Int](repeating: 0, count: x.rank), end = begin
        for i in 0..<n {
            let a = try b.physAxis(x, sp[i])
            begin[a] = p[i].0; end[a] = p[i].1
        }
        var y = x
        y.name = b.op1("Pad", [x.name, b.ints(begin + end, "\(name)/pads")], name: name)
        return y
    }

    static func crop(_ b: KerasGraphBuilder, _ x: KT, _ c: LayerConfig, n: Int, name: String) throws -> KT {
        guard x.rank == n + 2 else { throw ConvertError("input has rank \(x.rank), expected \(n + 2)") }
        let p = try pairs(c.d["cropping"], n: n)
        let sp = spatialAxes(c, rank: x.rank)
        var starts: [Int] = [], ends: [Int] = [], axes: [Int] = []
        for i in 0..<n {
            axes.append(try b.physAxis(x, sp[i]))
            starts.append(p[i].0)
            ends.append(p[i].1 > 0 ? -p[i].1 : Int(Int64.max))
        }
        var y = x
        y.name = b.op1("Slice", [x.name, b.ints(starts, "\(name)/starts"), b.ints(ends, "\(name)/ends"),
                                 b.ints(axes, "\(name)/axes")], name: name)
        return y
    }

    static func upsample(_ b: KerasGraphBuilder, _ x: KT, _ c: LayerConfig, n: Int, name: String) throws -> KT {
        guard x.rank == n + 2 else { throw ConvertError("input has rank \(x.rank), expected \(n + 2)") }
        let size = try c.ints(n == 1 ? "size" : "size", n) ?? [Int](repeating: 2, count: n)
        var scales = [Float](repeating: 1, count: x.rank)
        let sp = spatialAxes(c, rank: x.rank)
        for i in 0..<n { scales[try b.physAxis(x, sp[i])] = Float(size[i]) }
        var attrs: [String: Attribute]
        switch c.string("interpolation") ?? "nearest" {
        case "nearest":
            attrs = ["mode": .string("nearest"), "coordinate_transformation_mode": .string("asymmetric"),
                     "nearest_mode": .string("floor")]
        case "bilinear":
            attrs = ["mode": .string("linear"), "coordinate_transformation_mode": .string("half_pixel")]
        case let m: throw ConvertError("interpolation '\(m)' is not supported")
        }
        var y = x
        y.name = b.op1("Resize", [x.name, "", try b.floats(scales, shape: [x.rank], "\(name)/scales")], attrs, name: name)
        return y
    }

    // MARK: Merging

    static func merge(_ b: KerasGraphBuilder, _ cls: String, _ inputs: [KT], _ c: LayerConfig, name: String) throws -> KT {
        guard inputs.count >= 1 else { throw ConvertError("no inputs") }
        var ins = inputs
        let sameLayout = Set(ins.map { $0.cf && $0.rank >= 3 }).count == 1 && Set(ins.map(\.rank)).count == 1
        if !sameLayout { ins = ins.map { b.keras($0, "\(name)/to_channels_last") } }
        var y = ins[0]
        switch cls {
        case "Concatenate":
            let axis = c.int("axis") ?? -1
            y.name = b.op1("Concat", ins.map(\.name), ["axis": .int(try b.physAxis(ins[0], axis))], name: name)
        case "Subtract":
            guard ins.count == 2 else { throw ConvertError("Subtract needs exactly 2 inputs") }
            y.name = b.op1("Sub", [ins[0].name, ins[1].name], name: name)
        case "Maximum", "Minimum":
            y.name = b.op1(cls == "Maximum" ? "Max" : "Min", ins.map(\.name), name: name)
        default:
            let opType = cls == "Multiply" ? "Mul" : "Add"
            for t in ins.dropFirst() { y.name = b.op1(opType, [y.name, t.name], name: name) }
            if cls == "Average" {
                y.name = b.op1("Div", [y.name, try b.floats([Float(ins.count)], shape: [], "\(name)/n")], name: name)
            }
        }
        y.rank = ins.map(\.rank).max() ?? y.rank
        return y
    }
}
