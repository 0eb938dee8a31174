import OnyxTensor

/// Per-channel affine chains: inference BatchNormalization and Mul / Add / Sub / Div by per-channel (or scalar)
/// constants, in any order, optionally followed by an activation (Relu, Clip, LeakyRelu, …). DenseNet's
/// pre-activation (Concat → BatchNormalization → Mul → Add → Relu) is the typical one. Each chain becomes
/// - folded into the producing Conv's weights and bias (the activation then goes in its epilogue), or
/// - folded into the reading Conv's weights and bias when no activation sits between and the Conv has no padding
///   (every tap then sees an affine-mapped input value), or
/// - one ai.onyx.ChannelAffine(X, scale, bias) with the activation: one pass over memory instead of several.
extension GraphOptimizer {
    /// y = x · scale[c] + bias[c] along axis 1 (one value: the same for every element), then the activation.
    struct AffineChain {
        var input: String
        /// Output of the last affine node (the activation reads it).
        var affineOutput: String
        var scale: [Float]
        var bias: [Float]
        /// Indices of the affine nodes, then of the activation node.
        var nodes: [Int]
        /// A BatchNormalization in the chain guarantees that X has `scale.count` channels.
        var channelsChecked: Bool
        var hasBatchNorm: Bool
        var activation: (index: Int, name: String, params: [Float], output: String)?
        var output: String { activation?.output ?? affineOutput }
    }

    /// Statically known ranks and float32-ness of values: declared types, initializers, and propagation
    /// through the rank-preserving operators of CNN graphs (in node order).
    func staticRanks(_ g: Graph, _ consts: [String: Tensor]) -> (rank: [String: Int], float32: Set<String>) {
        var rank: [String: Int] = [:]
        var f32 = Set<String>()
        for v in g.inputs + g.valueInfo + g.outputs {
            if let s = v.type.tensorShape { rank[v.name] = s.count }
            if v.type.tensorDType == .float32 { f32.insert(v.name) }
        }
        for (name, t) in g.initializers {
            rank[name] = t.rank
            if t.dtype == .float32 { f32.insert(name) } else { f32.remove(name) }
        }
        let unary: Set<String> = ["Relu", "LeakyRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Elu", "Selu",
                                  "Softplus", "BatchNormalization", "Dropout", "Identity", "MaxPool", "AveragePool", "LpPool",
                                  "GlobalAveragePool", "GlobalMaxPool", "LRN", "InstanceNormalization", "Abs", "Neg"]
        let nary: Set<String> = ["Concat", "Add", "Mul", "Sub", "Div", "Sum", "Max", "Min", "Mean"]
        for n in g.nodes where Self.isStandard(n) || n.domain == Self.onyxDomain {
            guard let out = n.outputs.first, !out.isEmpty, !n.inputs.isEmpty else { continue }
            if n.opType == "Conv" || n.opType == "FusedConv" || n.opType == "ConvTranspose" {
                if n.inputs.count >= 2, let w = consts[n.inputs[1]] {
                    rank[out] = w.rank
                    if w.dtype == .float32 { f32.insert(out) }
                } else if let r = rank[n.inputs[0]] { rank[out] = r }
            } else if unary.contains(n.opType) {
                if let r = rank[n.inputs[0]] { rank[out] = r }
                if f32.contains(n.inputs[0]) { f32.insert(out) }
            } else if nary.contains(n.opType) {
                let ins = n.inputs.filter { !$0.isEmpty }
                let rs = ins.compactMap { rank[$0] }
                if rs.count == ins.count, let m = rs.max() { rank[out] = m }
                if n.opType == "Concat" ? ins.contains(where: { f32.contains($0) }) : ins.allSatisfy({ f32.contains($0) }) {
                    f32.insert(out)
                }
            }
        }
        return (rank, f32)
    }

    /// A constant's values as a per-channel vector for an input of rank `r`: one value (a scalar that does not
    /// raise the rank), or C values along axis 1 with every other axis 1 (only for rank >= 3, so that a MatMul's
    /// bias vector on a 2-D product is left to fuseMatMulBias).
    func channelVector(_ t: Tensor, rank r: Int?) -> [Float]? {
        guard t.dtype == .float32, t.count >= 1, let v = try? t.toArray(Float.self) else { return nil }
        if t.count == 1 {
            if t.rank == 0 { return v }
            guard let r, t.rank <= r else { return nil }
            return v
        }
        guard let r, r >= 3, t.rank <= r else { return nil }
        let padded = Array(repeating: 1, count: r - t.rank) + t.shape
        guard padded[1] == t.count else { return nil }
        return v
    }

    /// The affine map of one node: (input, scale, bias, is BatchNormalization), or nil.
    func affineStep(_ n: Node, _ consts: [String: Tensor], _ rank: [String: Int], _ f32: Set<String>,
                    _ uses: [String: Int]) -> (x: String, scale: [Float], bias: [Float], bn: Bool)? {
        guard Self.isStandard(n), let out = n.outputs.first, !out.isEmpty else { return nil }
        if n.opType == "BatchNormalization" {
            guard n.inputs.count == 5, n.outputs.dropFirst().allSatisfy({ $0.isEmpty || (uses[$0] ?? 0) == 0 }),
                  (try? NodeContext.intAttr(n, "training_mode")) ?? 0 == 0, f32.contains(n.inputs[0]), consts[n.inputs[0]] == nil,
                  let sc = consts[n.inputs[1]], let be = consts[n.inputs[2]], let mu = consts[n.inputs[3]], let va = consts[n.inputs[4]],
                  [sc, be, mu, va].allSatisfy({ $0.dtype == .float32 && $0.count == sc.count }), sc.count > 0,
                  let s = try? sc.toArray(Float.self), let b = try? be.toArray(Float.self),
                  let m = try? mu.toArray(Float.self), let v = try? va.toArray(Float.self) else { return nil }
            var eps: Float = 1e-5
            if case .float(let e)? = n.attributes["epsilon"] { eps = e }
            var scale = [Float](repeating: 0, count: s.count), bias = scale
            for c in 0..<s.count {
                let a = Double(s[c]) / (Double(v[c]) + Double(eps)).squareRoot()
                scale[c] = Float(a)
                bias[c] = Float(Double(b[c]) - Double(m[c]) * a)
            }
            return (n.inputs[0], scale, bias, true)
        }
        guard n.inputs.count == 2, n.outputs.count == 1, ["Mul", "Add", "Sub", "Div"].contains(n.opType) else { return nil }
        let c0 = consts[n.inputs[0]], c1 = consts[n.inputs[1]]
        guard (c0 == nil) != (c1 == nil) else { return nil }
        let xi = c0 == nil ? 0 : 1
        let x = n.inputs[xi]
        guard !x.isEmpty, let ct = c0 ?? c1, let v = channelVector(ct, rank: rank[x]) else { return nil }
        let ones = [Float](repeating: 1, count: v.count), zeros = [Float](repeating: 0, count: v.count)
        switch (n.opType, xi) {
        case ("Mul", _): return (x, v, zeros, false)
        case ("Add", _): return (x, ones, v, false)
        case ("Sub", 0): return (x, ones, v.map { -$0 }, false)
        case ("Sub", _): return (x, ones.map { -$0 }, v, false)
        case ("Div", 0):
            let r = v.map { 1 / $0 }
            guard r.allSatisfy({ $0.isFinite && $0 != 0 }) else { return nil }
            return (x, r, zeros, false)
        default: return nil
        }
    }

    /// (s1, t1) then (s2, t2): x·s1·s2 + t1·s2 + t2; one-value maps widen to the other's channel count.
    static func compose(_ s1: [Float], _ t1: [Float], _ s2: [Float], _ t2: [Float]) -> (scale: [Float], bias: [Float])? {
        let c = max(s1.count, s2.count)
        guard s1.count == c || s1.count == 1, s2.count == c || s2.count == 1 else { return nil }
        var s = [Float](repeating: 0, count: c), t = s
        for i in 0..<c {
            let a1 = s1[s1.count == 1 ? 0 : i], b1 = t1[t1.count == 1 ? 0 : i]
            let a2 = s2[s2.count == 1 ? 0 : i], b2 = t2[t2.count == 1 ? 0 : i]
            s[i] = a1 * a2
            t[i] = b1 * a2 + b2
        }
        return (s, t)
    }

    func fuseChannelAffine(_ g: Graph) -> Graph {
        var consts = constants(g)
        let uses = useCounts(g)
        let (rank, f32) = staticRanks(g, consts)
        let opset = opsets[""] ?? 21
        var producer: [String: Int] = [:]
        var readers: [String: [Int]] = [:]
        for (i, n) in g.nodes.enumerated() {
            for o in n.outputs where !o.isEmpty { producer[o] = i }
            for inp in Set(n.inputs) where !inp.isEmpty { readers[inp, default: []].append(i) }
        }
        // 1. Chains, in node order: a step extends the chain whose output it alone reads.
        var chains: [AffineChain] = []
        var chainEnding: [String: Int] = [:]
        for (i, n) in g.nodes.enumerated() {
            if let st = affineStep(n, consts, rank, f32, uses) {
                if let ci = chainEnding[st.x], chains[ci].activation == nil, uses[st.x] == 1,
                   let m = Self.compose(chains[ci].scale, chains[ci].bias, st.scale, st.bias) {
                    chains[ci].scale = m.scale; chains[ci].bias = m.bias
                    chains[ci].nodes.append(i)
                    chains[ci].affineOutput = n.outputs[0]
                    chains[ci].channelsChecked = chains[ci].channelsChecked || st.bn
                    chains[ci].hasBatchNorm = chains[ci].hasBatchNorm || st.bn
                    chainEnding[st.x] = nil
                    chainEnding[n.outputs[0]] = ci
                } else {
                    chains.append(AffineChain(input: st.x, affineOutput: n.outputs[0], scale: st.scale, bias: st.bias, nodes: [i],
                                              channelsChecked: st.bn, hasBatchNorm: st.bn, activation: nil))
                    chainEnding[n.outputs[0]] = chains.count - 1
                }
                continue
            }
            if Self.isStandard(n), n.outputs.count == 1, let x = n.inputs.first, let ci = chainEnding[x],
               chains[ci].activation == nil, uses[x] == 1, let a = Self.activationAttributes(n, consts, opset: opset) {
                chains[ci].activation = (i, a.name, a.params, n.outputs[0])
                chains[ci].nodes.append(i)
                chainEnding[x] = nil
            }
        }
        if chains.isEmpty { return g }
        var nodes: [Node?] = g.nodes
        var out = g
        var taken = allNames(g)
        func addInit(_ base: String, _ shape: [Int], _ v: [Float]) -> String {
            let name = freshName(base, &taken)
            let t = Tensor(shape: shape, checkedValues: v)
            out.initializers.append((name, t))
            consts[name] = t
            return name
        }
        for ch in chains {
            let affineNodes = ch.nodes.filter { $0 != ch.activation?.index }
            let c = ch.scale.count
            // 2. Into the producing Conv: W[o] · s[o], b[o] · s[o] + t[o].
            if let pi = producer[ch.input], let conv = nodes[pi], Self.isStandard(conv), conv.opType == "Conv",
               conv.outputs.count == 1, uses[ch.input] == 1, conv.inputs.count >= 2,
               let w = consts[conv.inputs[1]], w.dtype == .float32, w.rank >= 3, w.shape[0] > 0, c == 1 || c == w.shape[0],
               var wv = try? w.toArray(Float.self) {
                let m = w.shape[0], per = w.count / m
                var b = [Float](repeating: 0, count: m)
                var biasOK = true
                if conv.inputs.count >= 3, !conv.inputs[2].isEmpty {
                    if let bt = consts[conv.inputs[2]], bt.dtype == .float32, bt.count == m, let v = try? bt.toArray(Float.self) { b = v } else { biasOK = false }
                }
                if biasOK {
                    for o in 0..<m {
                        let s = ch.scale[c == 1 ? 0 : o], t = ch.bias[c == 1 ? 0 : o]
                        for j in 0..<per { wv[o * per + j] *= s }
                        b[o] = b[o] * s + t
                    }
                    var nc = conv
                    nc.inputs = [conv.inputs[0], addInit(conv.inputs[1] + "_affine", w.shape, wv), addInit(ch.affineOutput + "_bias", [m], b)]
                    nc.outputs = [ch.affineOutput]
                    nodes[pi] = nc
                    for k in affineNodes { nodes[k] = nil }
                    continue   // the activation node stays: fuseActivation puts it in the epilogue
                }
            }
            // 3. Into the reading Conv (no activation between, no padding): W[o, ci] · s[c], b[o] + Σ W[o, ci] · t[c].
            if ch.activation == nil, uses[ch.output] == 1, let rs = readers[ch.output], rs.count == 1, let conv = nodes[rs[0]],
               Self.isStandard(conv), conv.opType == "Conv", conv.outputs.count == 1, conv.inputs.count >= 2,
               conv.inputs[0] == ch.output, conv.inputs.dropFirst().allSatisfy({ $0 != ch.output }),
               ch.channelsChecked || c == 1, Self.convHasNoPadding(conv),
               let w = consts[conv.inputs[1]], w.dtype == .float32, w.rank >= 3, w.shape[0] > 0, w.shape[1] > 0,
               var wv = try? w.toArray(Float.self) {
                let m = w.shape[0], cg = w.shape[1], group = (try? NodeContext.intAttr(conv, "group")) ?? 1
                let ks = w.count / (m * cg)
                var b = [Float](repeating: 0, count: m)
                var ok = group >= 1 && m % group == 0 && (c == 1 || c == cg * group)
                if ok, conv.inputs.count >= 3, !conv.inputs[2].isEmpty {
                    if let bt = consts[conv.inputs[2]], bt.dtype == .float32, bt.count == m, let v = try? bt.toArray(Float.self) { b = v } else { ok = false }
                }
                if ok {
                    let mg = m / group
                    for o in 0..<m {
                        var acc = Double(b[o])
                        for ci in 0..<cg {
                            let cc = c == 1 ? 0 : (o / mg) * cg + ci
                            let s = ch.scale[cc], t = Double(ch.bias[cc])
                            for k in 0..<ks {
                                let idx = (o * cg + ci) * ks + k
                                acc += Double(wv[idx]) * t
                                wv[idx] *= s
                            }
                        }
                        b[o] = Float(acc)
                    }
                    var nc = conv
                    nc.inputs = [ch.input, addInit(conv.inputs[1] + "_affine", w.shape, wv), addInit(conv.outputs[0] + "_bias", [m], b)]
                    nodes[rs[0]] = nc
                    for k in ch.nodes { nodes[k] = nil }
                    continue
                }
            }
            // 4. One ChannelAffine node, where it saves a pass (BatchNormalization, or two or more nodes).
            guard ch.hasBatchNorm || ch.nodes.count >= 2, let last = ch.nodes.last else { continue }
            var attrs: [String: Attribute] = [:]
            if let a = ch.activation {
                attrs["activation"] = .string(a.name)
                if !a.params.isEmpty { attrs["activation_params"] = .floats(a.params) }
            }
            let sName = addInit(ch.affineOutput + "_scale", [c], ch.scale), bName = addInit(ch.affineOutput + "_shift", [c], ch.bias)
            for k in ch.nodes { nodes[k] = nil }
            nodes[last] = Node(name: g.nodes[ch.nodes[0]].name + "_affine", opType: "ChannelAffine", domain: Self.onyxDomain,
                               inputs: [ch.input, sName, bName], outputs: [ch.output], attributes: attrs)
        }
        out.nodes = nodes.compactMap { $0 }
        return out
    }

    /// Whether a Conv reads no padding (pads absent or zero, auto_pad NOTSET or VALID).
    static func convHasNoPadding(_ n: Node) -> Bool {
        if case .string(let a)? = n.attributes["auto_pad"], a != "NOTSET" && a != "VALID" { return false }
        if case .ints(let p)? = n.attributes["pads"], p.contains(where: { $0 != 0 }) { return false }
        if let p = n.attributes["pads"] { if case .ints = p {} else { return false } }
        return true
    }
}
