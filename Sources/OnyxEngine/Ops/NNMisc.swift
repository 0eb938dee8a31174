import OnyxTensor

/// Dropout, Einsum, Det.
enum NNMiscOps {
    static func register(_ t: inout OperatorTable) {
        t.add("Dropout", since: 1) { try DropoutOp($0, inputsForm: false) }
        t.add("Dropout", since: 12) { try DropoutOp($0, inputsForm: true) }
        t.add("Einsum") { try EinsumOp($0) }
        t.add("Det") { _ in DetOp() }
    }
}

/// MT19937 with numpy's `RandomState(seed).uniform` doubles, so seeded training-mode Dropout
/// matches the reference masks.
struct NNMersenneTwister {
    var mt = [UInt32](repeating: 0, count: 624)
    var index = 624

    init(seed: UInt32) {
        mt[0] = seed
        for i in 1..<624 { mt[i] = 1812433253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i) }
    }

    mutating func next() -> UInt32 {
        if index >= 624 {
            for i in 0..<624 {
                let y = (mt[i] & 0x8000_0000) | (mt[(i + 1) % 624] & 0x7FFF_FFFF)
                mt[i] = mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
            }
            index = 0
        }
        var y = mt[index]; index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// A double in [0, 1) with 53 random bits (numpy's random_sample).
    mutating func nextDouble() -> Double {
        let a = Double(next() >> 5), b = Double(next() >> 6)
        return (a * 67_108_864 + b) / 9_007_199_254_740_992
    }
}

struct DropoutOp: TensorKernel {
    let inputsForm: Bool
    let ratioAttr: Double
    let seed: Int?

    init(_ c: NodeContext, inputsForm: Bool) throws {
        self.inputsForm = inputsForm
        ratioAttr = Double(try c.float("ratio", 0.5))
        seed = c.has("seed") ? try c.int("seed") : nil
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        var ratio = ratioAttr, training = false
        if inputsForm {
            if let r = inputs.optional(1) { guard r.count == 1 else { throw KernelError("ratio must be a scalar") }; ratio = r.doubleValue(at: 0) }
            if let t = inputs.optional(2) { guard t.count == 1 else { throw KernelError("training_mode must be a scalar") }; training = t.doubleValue(at: 0) != 0 }
        }
        guard ratio >= 0, ratio < 1 || !training else { throw KernelError("ratio must be in [0, 1), got \(ratio)") }
        if !training || ratio == 0 {
            return [x, Tensor(shape: x.shape, checkedValues: [Bool](repeating: true, count: x.count))]
        }
        var rng = NNMersenneTwister(seed: UInt32(truncatingIfNeeded: seed ?? Int.random(in: 0..<Int(UInt32.max))))
        let mask = (0..<x.count).map { _ in rng.nextDouble() >= ratio }
        let y = try nnDispatch(x.dtype, Apply(x: x, mask: mask, scale: 1 / (1 - ratio)))
        return [y, Tensor(shape: x.shape, checkedValues: mask)]
    }

    struct Apply: NNVisitor {
        let x: Tensor, mask: [Bool], scale: Double
        func visit<C: NNReal>(_: C.Type) throws -> Tensor {
            let s = C(scale)
            return try nnRead(x, C.self) { xb in
                try nnWrite(x.dtype, x.shape, C.self) { yb in
                    for i in 0..<xb.count { yb[i] = mask[i] ? xb[i] * s : 0 }
                }
            }
        }
    }
}

/// Einsum by direct summation over the product of all label ranges (handles ellipsis, repeated labels).
struct EinsumOp: TensorKernel {
    /// Operand terms as label lists: letters are 0..<52, -1 marks the ellipsis.
    let terms: [[Int]]
    let output: [Int]?

    init(_ c: NodeContext) throws {
        let eq = try c.string("equation", "").filter { !$0.isWhitespace }
        let parts = eq.components(separatedBy: "->")
        guard parts.count <= 2 else { throw KernelError("equation '\(eq)' has more than one '->'") }
        func parse(_ s: Substring) throws -> [Int] {
            var out: [Int] = []
            var rest = s
            while let ch = rest.first {
                if rest.hasPrefix("...") { out.append(-1); rest = rest.dropFirst(3); continue }
                guard let a = ch.asciiValue, ch.isLetter else { throw KernelError("bad character '\(ch)' in equation '\(eq)'") }
                out.append(a >= 97 ? Int(a) - 97 + 26 : Int(a) - 65)
                rest = rest.dropFirst()
            }
            guard out.filter({ $0 == -1 }).count <= 1 else { throw KernelError("more than one ellipsis in a term of '\(eq)'") }
            return out
        }
        terms = try parts[0].split(separator: ",", omittingEmptySubsequences: false).map { try parse($0) }
        output = parts.count == 2 ? try parse(Substring(parts[1])) : nil
    }

    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let xs = try (0..<inputs.count).map { try inputs.required($0) }
        guard !xs.isEmpty, xs.count == terms.count else { throw KernelError("equation has \(terms.count) operands, got \(xs.count) inputs") }
        let dt = xs[0].dtype
        guard xs.allSatisfy({ $0.dtype == dt }) else { throw KernelError("Einsum inputs must share one type") }
        // Ellipsis rank and shape (broadcast across operands).
        var ellShape: [Int] = []
        for (t, x) in zip(terms, xs) {
            let letters = t.filter { $0 >= 0 }.count
            if let at = t.firstIndex(of: -1) {
                guard x.rank >= letters else { throw KernelError("operand of rank \(x.rank) is too small for its term") }
                let e = Array(x.shape[at..<(at + x.rank - letters)])
                guard let b = Broadcast.shape([ellShape, e]) else { throw KernelError("ellipsis dimensions do not broadcast") }
                ellShape = b
            } else {
                guard x.rank == letters else { throw KernelError("operand of rank \(x.rank) does not match its term of \(letters) labels") }
            }
        }
        let er = ellShape.count
        // Labels: letters 0..<52, ellipsis dims 100+k.
        var size: [Int: Int] = [:]
        var opLabels: [[Int]] = []
        for (t, x) in zip(terms, xs) {
            var labels: [Int] = []
            for l in t {
                if l == -1 {
                    let n = x.rank - t.filter { $0 >= 0 }.count
                    for k in 0..<n { labels.append(100 + er - n + k) }
                } else { labels.append(l) }
            }
            for (d, l) in labels.enumerated() {
                let s = x.shape[d]
                if let old = size[l], old != s {
                    if l >= 100 && (old == 1 || s == 1) { size[l] = max(old, s); continue }
                    throw KernelError("label sizes disagree: \(old) and \(s)")
                }
                if size[l] == nil { size[l] = s }
            }
            opLabels.append(labels)
        }
        for k in 0..<er { size[100 + k] = ellShape[k] }
        var outLabels: [Int]
        if let output {
            outLabels = []
            for l in output {
                if l == -1 { outLabels += (0..<er).map { 100 + $0 } } else {
                    guard size[l] != nil else { throw KernelError("output label not found in inputs") }
                    outLabels.append(l)
                }
            }
        } else {
            var counts: [Int: Int] = [:]
            for t in terms { for l in t where l >= 0 { counts[l, default: 0] += 1 } }
            outLabels = (0..<er).map { 100 + $0 } + counts.keys.filter { counts[$0] == 1 }.sorted()
        }
        let sumLabels = size.keys.filter { !outLabels.contains($0) }.sorted()
        let all = outLabels + sumLabels
        let dims = all.map { size[$0] ?? 1 }
        // Per operand: stride for each label in `all` (repeated labels add up, broadcast dims get 0).
        var strides: [[Int]] = []
        for (labels, x) in zip(opLabels, xs) {
            let st = Broadcast.strides(x.shape)
            var s = [Int](repeating: 0, count: all.count)
            for (d, l) in labels.enumerated() where x.shape[d] != 1 {
                if let i = all.firstIndex(of: l) { s[i] += st[d] }
            }
            strides.append(s)
        }
        if xs.count == 2, dt == .float32 || dt == .float64 || dt == .float16,
           let fast = try EinsumGemm(xs: xs, labels: opLabels, size: size, out: outLabels, ctx: ctx) {
            return [try nnDispatch(dt, fast)]
        }
        let values = try xs.map { t in t.dtype.isFloatingPoint ? try nnArray(t, Double.self) : try dispatchNumeric(t.dtype, ToDouble(t: t)) }
        let outShape = outLabels.map { size[$0] ?? 1 }
        let outCount = Tensor.count(outShape), inner = Tensor.count(Array(dims[outLabels.count...]))
        var out = [Double](repeating: 0, count: outCount)
        if inner > 0 && outCount > 0 {
            var idx = [Int](repeating: 0, count: all.count)
            var offs = [Int](repeating: 0, count: xs.count)
            for o in 0..<outCount {
                var acc = 0.0
                for _ in 0..<inner {
                    var p = 1.0
                    for k in 0..<xs.count { p *= values[k][offs[k]] }
                    acc += p
                    var d = all.count - 1
                    while d >= 0 {
                        idx[d] += 1
                        for k in 0..<xs.count { offs[k] += strides[k][d] }
                        if idx[d] < dims[d] { break }
                        for k in 0..<xs.count { offs[k] -= strides[k][d] * idx[d] }
                        idx[d] = 0; d -= 1
                    }
                }
                out[o] = acc
            }
        }
        if dt.isFloatingPoint { return [try nnTensor(out, dtype: dt, shape: outShape)] }
        return [try dispatchNumeric(dt, FromDouble(values: out, shape: outShape))]
    }

    struct ToDouble: NumericVisitor {
        let t: Tensor
        func visit<T: NumericElement>(_: T.Type) throws -> [Double] { try t.withBuffer(of: T.self) { $0.map { $0.asDouble } } }
    }

    struct FromDouble: NumericVisitor {
        let values: [Double], shape: [Int]
        func visit<T: NumericElement>(_: T.Type) throws -> Tensor { Tensor(shape: shape, checkedValues: values.map { T(fromDouble: $0) }) }
    }
}

/// Det of square matrices in the last two dimensions (LU with partial pivoting, in Double).
struct DetOp: TensorKernel {
    func compute(_ inputs: [Tensor?], _ ctx: RunContext) throws -> [Tensor] {
        let x = try inputs.required(0, "X")
        guard x.rank >= 2, x.shape[x.rank - 1] == x.shape[x.rank - 2] else { throw KernelError("Det needs square matrices, got \(x.shape)") }
        let n = x.shape[x.rank - 1]
        let batch = Tensor.count(Array(x.shape.dropLast(2)))
        let v = try nnArray(x, Double.self)
        var out = [Double](repeating: 0, count: batch)
        for b in 0..<batch {
            var a = Array(v[(b * n * n)..<((b + 1) * n * n)])
            var det = 1.0
            for c in 0..<n {
                var p = c
                for r in (c + 1)..<max(n, c + 1) where abs(a[r * n + c]) > abs(a[p * n + c]) { p = r }
                if a[p * n + c] == 0 { det = 0; break }
                if p != c { for k in 0..<n { a.swapAt(p * n + k, c * n + k) }; det = -det }
                det *= a[c * n + c]
                for r in (c + 1)..<max(n, c + 1) {
                    let f = a[r * n + c] / a[c * n + c]
                    for k in c..<n { a[r * n + k] -= f * a[c * n + k] }
                }
            }
            out[b] = det
        }
        return [try nnTensor(out, dtype: x.dtype, shape: Array(x.shape.dropLast(2)))]
    }
}

/// Two-operand Einsum without diagonals, broadcasting or single-operand sums, as a batched GEMM:
/// A → [batch, M, K], B → [batch, K, N] (permuted copies), then the [batch, M, N] result permuted to the output.
struct EinsumGemm: NNVisitor {
    let xs: [Tensor], labels: [[Int]], out: [Int], ctx: RunContext
    let batch: [Int], left: [Int], right: [Int], contract: [Int]
    let size: [Int: Int]

    init?(xs: [Tensor], labels: [[Int]], size: [Int: Int], out: [Int], ctx: RunContext) throws {
        let a = labels[0], b = labels[1]
        guard Set(a).count == a.count, Set(b).count == b.count, Set(out).count == out.count else { return nil }
        for (ls, x) in zip(labels, xs) {
            for (d, l) in ls.enumerated() where x.shape[d] != size[l] { return nil }
        }
        var batch: [Int] = [], left: [Int] = [], right: [Int] = [], contract: [Int] = []
        for l in a {
            if b.contains(l) { if out.contains(l) { batch.append(l) } else { contract.append(l) } }
            else if out.contains(l) { left.append(l) } else { return nil }
        }
        for l in b where !a.contains(l) { if out.contains(l) { right.append(l) } else { return nil } }
        self.xs = xs; self.labels = labels; self.out = out; self.ctx = ctx; self.size = size
        self.batch = batch; self.left = left; self.right = right; self.contract = contract
    }

    /// `values` (laid out by `from` labels) copied into the order of `to` labels.
    static func permute<C>(_ values: [C], from: [Int], to: [Int], size: [Int: Int]) -> [C] {
        if from == to { return values }
        let shape = to.map { size[$0] ?? 1 }
        let srcSt = Broadcast.strides(from.map { size[$0] ?? 1 })
        let st = to.map { l in from.firstIndex(of: l).map { srcSt[$0] } ?? 0 }
        var outv = [C](); outv.reserveCapacity(values.count)
        let n = Tensor.count(shape)
        var idx = [Int](repeating: 0, count: shape.count)
        var off = 0
        for _ in 0..<n {
            outv.append(values[off])
            var d = shape.count - 1
            while d >= 0 {
                idx[d] += 1; off += st[d]
                if idx[d] < shape[d] { break }
                off -= st[d] * idx[d]; idx[d] = 0; d -= 1
            }
        }
        return outv
    }

    func visit<C: NNReal>(_: C.Type) throws -> Tensor {
        let cnt = { (ls: [Int]) in ls.reduce(1) { $0 * (size[$1] ?? 1) } }
        let bt = cnt(batch), m = cnt(left), n = cnt(right), k = cnt(contract)
        let a = Self.permute(try nnArray(xs[0], C.self), from: labels[0], to: batch + left + contract, size: size)
        let b = Self.permute(try nnArray(xs[1], C.self), from: labels[1], to: batch + contract + right, size: size)
        var y = [C](repeating: 0, count: bt * m * n)
        a.withUnsafeBufferPointer { ab in
            b.withUnsafeBufferPointer { bb in
                y.withUnsafeMutableBufferPointer { yb in
                    guard let ap = ab.baseAddress, let bp = bb.baseAddress, let yp = yb.baseAddress else { return }
                    for i in 0..<bt {
                        nnGemm(transA: false, transB: false, m: m, n: n, k: k, alpha: 1, a: ap + i * m * k, lda: k,
                               b: bp + i * k * n, ldb: n, beta: 0, c: yp + i * m * n, ldc: n, ctx: ctx)
                    }
                }
            }
        }
        let res = Self.permute(y, from: batch + left + right, to: out, size: size)
        return try nnTensor(res, dtype: xs[0].dtype, shape: out.map { size[$0] ?? 1 })
    }
}
