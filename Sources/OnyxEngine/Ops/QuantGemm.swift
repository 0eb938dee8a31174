import OnyxTensor
import OnyxKernels
import COnyxKernels

/// The packed int8 GEMM (Sources/COnyxKernels/qgemm.c) from Swift: constant weights packed once at load,
/// activations packed per call, threads split the column panels.
enum QGemm {
    /// Zero points and output of one product, in the kernel's domains (A uint8, B int8).
    enum Output {
        case int32(UnsafeMutablePointer<Int32>)
        /// y[i, j] = Float(acc) * scale[j] (+ bias[j]), each step rounded like Cast → Mul → Add.
        case float(UnsafeMutablePointer<Float>, scale: [Float], bias: [Float]?)
    }

    /// C[m × n] = (A − aZp) · (B − bZp[j]) for a row-major uint8 A (int8 when `flipA`, shifted by +128 with its
    /// zero point) and packed B. `aZp` is in the uint8 domain, `bZp` (n values or nil) in the int8 domain.
    static func run(a: UnsafePointer<UInt8>, flipA: Bool, m: Int, aZp: Int32, b: QPackedB, bZp: [Int32]?,
                    output: Output, ctx: RunContext) {
        let k = b.k, n = b.n
        if m <= 0 || n <= 0 { return }
        let mp = (m + 5) / 6
        let aBytes = max(onyx_qgemm_packed_a_bytes(m, k), 1)
        let pa = UnsafeMutableRawPointer.allocate(byteCount: aBytes, alignment: 64)
        defer { pa.deallocate() }
        var rowsum = [Int32](repeating: 0, count: m)
        let threads = m * n * max(k, 1) >= 1 << 17 ? ctx.threads : 1
        rowsum.withUnsafeMutableBufferPointer { rs in
            let rsAddr = UInt(bitPattern: rs.baseAddress), paAddr = UInt(bitPattern: pa), aAddr = UInt(bitPattern: a)
            ctx.pool.parallelFor(mp, threads: m * k >= 1 << 15 ? threads : 1, cost: 6 * max(k, 1)) { r in
                onyx_qgemm_pack_a(m, k, UnsafePointer(bitPattern: aAddr), k, flipA ? 1 : 0,
                                  UnsafeMutableRawPointer(bitPattern: paAddr), UnsafeMutablePointer(bitPattern: rsAddr),
                                  r.lowerBound, r.upperBound)
            }
        }
        let np = (n + Int(onyx_qgemm_nr()) - 1) / Int(onyx_qgemm_nr())
        rowsum.withUnsafeBufferPointer { rs in
            b.colsum.withUnsafeBufferPointer { cs in
                withOptionalInt32(bZp) { bz in
                    var o = onyx_qgemm_out()
                    o.a_zp = aZp; o.rowsum_a = rs.baseAddress; o.b_zp = bz; o.colsum_b = cs.baseAddress; o.ldc = n
                    func go(_ o: onyx_qgemm_out) {
                        let box = QOutBox(o: o), pAddr = UInt(bitPattern: pa), bAddr = UInt(bitPattern: b.bytes)
                        ctx.pool.parallelFor(np, threads: threads, cost: Int(onyx_qgemm_nr()) * m * max(k, 1)) { r in
                            var oo = box.o
                            onyx_qgemm(m, n, k, UnsafeRawPointer(bitPattern: pAddr), UnsafeRawPointer(bitPattern: bAddr),
                                       &oo, r.lowerBound, r.upperBound)
                        }
                    }
                    switch output {
                    case .int32(let c):
                        o.c32 = c
                        go(o)
                    case .float(let c, let scale, let bias):
                        o.cf = c
                        scale.withUnsafeBufferPointer { sp in
                            withOptionalBuffer(bias) { bp in
                                o.scale = sp.baseAddress; o.bias = bp
                                go(o)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The C output descriptor handed to `parallelFor` chunks.
/// Safety of `@unchecked Sendable`: its pointers are only read (inputs) or written at disjoint column panels
/// (outputs), and all of them outlive the `parallelFor` call that uses the box.
struct QOutBox: @unchecked Sendable { let o: onyx_qgemm_out }

func withOptionalInt32<R>(_ a: [Int32]?, _ body: (UnsafePointer<Int32>?) throws -> R) rethrows -> R {
    guard let a else { return try body(nil) }
    return try a.withUnsafeBufferPointer { try body($0.baseAddress) }
}

/// A constant int8 / uint8 matrix B [K, N] packed for `QGemm`, with its column sums (int8 domain).
/// Safety of `@unchecked Sendable`: written once in `init`, read-only afterwards; freed in `deinit`.
final class QPackedB: @unchecked Sendable {
    let k: Int, n: Int
    /// True when the source was uint8 (values and zero points shifted by −128).
    let flipped: Bool
    let bytes: UnsafeMutableRawPointer
    let colsum: [Int32]

    /// `b` is 2-D [K, N] (or [N, K] with `transposed`), int8 or uint8.
    init?(_ b: Tensor, transposed: Bool = false) {
        guard b.rank == 2, b.dtype == .int8 || b.dtype == .uint8 else { return nil }
        k = transposed ? b.shape[1] : b.shape[0]; n = transposed ? b.shape[0] : b.shape[1]
        flipped = b.dtype == .uint8
        bytes = UnsafeMutableRawPointer.allocate(byteCount: max(onyx_qgemm_packed_b_bytes(k, n), 1), alignment: 64)
        var cs = [Int32](repeating: 0, count: n)
        let rs = transposed ? 1 : n, cstride = transposed ? k : 1
        let (kk, nn, fl, dst) = (k, n, flipped, bytes)
        cs.withUnsafeMutableBufferPointer { c in
            onyx_qgemm_pack_b(kk, nn, b.rawPointer.assumingMemoryBound(to: Int8.self), rs, cstride,
                              fl ? 1 : 0, dst, c.baseAddress)
        }
        colsum = cs
    }

    deinit { bytes.deallocate() }

    /// Zero points (1 or N values of B's dtype, widened) in the kernel's int8 domain; nil when all zero.
    func kernelZeroPoints(_ zp: [Int32]) throws -> [Int32]? {
        let v = try quantVector(zp, n, "b_zero_point").map { flipped ? $0 - 128 : $0 }
        return v.allSatisfy { $0 == 0 } ? nil : v
    }
}
