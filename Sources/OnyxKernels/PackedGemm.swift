import COnyxKernels

/// Activation fused into a GEMM / convolution epilogue (codes shared with the C kernels).
public enum FusedActivation: Int32, Sendable {
    case none = 0, relu, clip, leakyRelu, sigmoid, tanh, hardSigmoid, hardSwish, silu, gelu

    /// The activation for an `ai.onyx` fused op's `activation` attribute ("" = none).
    public init?(name: String) {
        switch name {
        case "", "None": self = .none
        case "Relu": self = .relu
        case "Clip": self = .clip
        case "LeakyRelu": self = .leakyRelu
        case "Sigmoid": self = .sigmoid
        case "Tanh": self = .tanh
        case "HardSigmoid": self = .hardSigmoid
        case "HardSwish": self = .hardSwish
        case "SiLU": self = .silu
        case "Gelu": self = .gelu
        default: return nil
        }
    }
}

/// Bias, residual and activation applied as GEMM output tiles are finished.
/// Safety of `@unchecked Sendable`: the pointers are only read, during the GEMM call that receives them.
public struct GemmEpilogue: @unchecked Sendable {
    public var bias: UnsafePointer<Float>?
    public var biasPerRow: Bool
    public var residual: UnsafePointer<Float>?
    public var ldr: Int
    public var activation: FusedActivation
    public var p0: Float, p1: Float
    public init(bias: UnsafePointer<Float>? = nil, biasPerRow: Bool = false, residual: UnsafePointer<Float>? = nil,
                ldr: Int = 0, activation: FusedActivation = .none, p0: Float = 0, p1: Float = 0) {
        self.bias = bias; self.biasPerRow = biasPerRow; self.residual = residual; self.ldr = ldr
        self.activation = activation; self.p0 = p0; self.p1 = p1
    }
    var c: onyx_epilogue {
        onyx_epilogue(bias: bias, bias_per_row: biasPerRow ? 1 : 0, res: residual, ldr: ldr,
                      act: activation.rawValue, p0: p0, p1: p1)
    }
    var isTrivial: Bool { bias == nil && residual == nil && activation == .none }
}

/// A matrix packed in the micro-kernel's panel layout, e.g. a constant weight packed once at load.
/// Safety of `@unchecked Sendable`: the buffer is written only in `init` and read-only afterwards.
public final class PackedMatrix: @unchecked Sendable {
    public enum Side: Sendable { case a, b }
    public let side: Side
    /// op(A) is rows×k (side a); op(B) is k×cols (side b).
    public let rows: Int, cols: Int
    let storage: UnsafeMutableRawPointer
    /// Bytes of the packed buffer.
    public let byteCount: Int
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.assumingMemoryBound(to: Float.self)) }

    /// Packs alpha·op(A), A of m×k after the optional transpose.
    public init(a: UnsafePointer<Float>, transposed: Bool, m: Int, k: Int, lda: Int, alpha: Float = 1) {
        side = .a; rows = m; cols = k
        let count = onyx_packed_a_size(m, k)
        byteCount = max(count, 1) * 4
        storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let panels = (m + 5) / 6
        onyx_pack_a(transposed ? 1 : 0, m, k, alpha, a, lda, storage.assumingMemoryBound(to: Float.self), 0, panels)
    }

    /// Packs op(B), of k×n after the optional transpose.
    public init(b: UnsafePointer<Float>, transposed: Bool, k: Int, n: Int, ldb: Int) {
        side = .b; rows = k; cols = n
        let count = onyx_packed_b_size(k, n)
        byteCount = max(count, 1) * 4
        storage = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
        let panels = (n + 15) / 16
        onyx_pack_b(transposed ? 1 : 0, k, n, b, ldb, storage.assumingMemoryBound(to: Float.self), 0, panels)
    }

    deinit { storage.deallocate() }
}

/// A GEMM operand: raw row-major memory or a pre-packed matrix.
/// Safety of `@unchecked Sendable`: raw pointers are only read during the call.
public enum GemmOperand: @unchecked Sendable {
    case raw(UnsafePointer<Float>, ld: Int, transposed: Bool)
    case packed(PackedMatrix)
    /// Already in the packed panel layout of this side (e.g. im2col packed by the caller), alive during the call.
    case prepacked(UnsafePointer<Float>)
}

extension SGEMM {
    static let mr = 6, nr = 16

    /// C[m×n] (= or += when `accumulate`) op(A)·op(B), then the epilogue. Operands not packed yet are packed
    /// once per call (in parallel); output tiles are split across threads along the longer dimension.
    public static func run(m: Int, n: Int, k: Int, alpha: Float = 1, a: GemmOperand, b: GemmOperand,
                           c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool = false,
                           epilogue: GemmEpilogue = GemmEpilogue(), threads: Int = 1, pool: ThreadPool = .shared) {
        if m <= 0 || n <= 0 { return }
        let flops = m * n * max(k, 1)
        let t = flops >= 1 << 17 ? max(1, threads) : 1
        let mp = (m + mr - 1) / mr, np = (n + nr - 1) / nr
        // Pack what is not packed.
        var ownA: UnsafeMutableRawPointer? = nil, ownB: UnsafeMutableRawPointer? = nil
        defer { ownA?.deallocate(); ownB?.deallocate() }
        let pa: UnsafePointer<Float>, pb: UnsafePointer<Float>
        switch a {
        case .packed(let p): pa = p.pointer
        case .prepacked(let p): pa = p
        case .raw(let ap, let lda, let tr):
            let buf = UnsafeMutableRawPointer.allocate(byteCount: max(onyx_packed_a_size(m, k), 1) * 4, alignment: 64)
            ownA = buf
            let dst = UInt(bitPattern: buf), src = UInt(bitPattern: ap)
            let packT = m * k >= 1 << 15 ? t : 1
            pool.parallelFor(mp, threads: packT, cost: mr * max(k, 1)) { r in
                onyx_pack_a(tr ? 1 : 0, m, k, alpha, UnsafePointer(bitPattern: src), lda,
                            UnsafeMutablePointer(bitPattern: dst), r.lowerBound, r.upperBound)
            }
            pa = UnsafePointer(buf.assumingMemoryBound(to: Float.self))
        }
        switch b {
        case .packed(let p): pb = p.pointer
        case .prepacked(let p): pb = p
        case .raw(let bp, let ldb, let tr):
            let buf = UnsafeMutableRawPointer.allocate(byteCount: max(onyx_packed_b_size(k, n), 1) * 4, alignment: 64)
            ownB = buf
            let dst = UInt(bitPattern: buf), src = UInt(bitPattern: bp)
            let packT = k * n >= 1 << 15 ? t : 1
            pool.parallelFor(np, threads: packT, cost: nr * max(k, 1)) { r in
                onyx_pack_b(tr ? 1 : 0, k, n, UnsafePointer(bitPattern: src), ldb,
                            UnsafeMutablePointer(bitPattern: dst), r.lowerBound, r.upperBound)
            }
            pb = UnsafePointer(buf.assumingMemoryBound(to: Float.self))
        }
        var ep = epilogue.c
        let trivial = epilogue.isTrivial
        let acc: Int32 = accumulate ? 1 : 0
        if t <= 1 || (mp < 2 && np < 2) {
            if trivial { onyx_gemm_packed(m, n, k, pa, pb, c, ldc, acc, 0, m, 0, n, nil) }
            else { onyx_gemm_packed(m, n, k, pa, pb, c, ldc, acc, 0, m, 0, n, &ep) }
            return
        }
        let splitRows = mp >= np
        let panels = splitRows ? mp : np
        let parts = min(t, panels)
        let per = (panels + parts - 1) / parts
        let aAddr = UInt(bitPattern: pa), bAddr = UInt(bitPattern: pb), cAddr = UInt(bitPattern: c)
        pool.parallelFor(parts, threads: parts, cost: 1 << 20) { range in
            var e = epilogue.c
            for part in range {
                let p0 = part * per, p1 = min(panels, p0 + per)
                if p0 >= p1 { continue }
                let (i0, i1, j0, j1) = splitRows ? (p0 * mr, min(m, p1 * mr), 0, n) : (0, m, p0 * nr, min(n, p1 * nr))
                if trivial {
                    onyx_gemm_packed(m, n, k, UnsafePointer(bitPattern: aAddr), UnsafePointer(bitPattern: bAddr),
                                     UnsafeMutablePointer(bitPattern: cAddr), ldc, acc, i0, i1, j0, j1, nil)
                } else {
                    onyx_gemm_packed(m, n, k, UnsafePointer(bitPattern: aAddr), UnsafePointer(bitPattern: bAddr),
                                     UnsafeMutablePointer(bitPattern: cAddr), ldc, acc, i0, i1, j0, j1, &e)
                }
            }
        }
    }
}
