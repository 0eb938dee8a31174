import Foundation
import Synchronization
import Testing
@testable import OnyxKernels

/// The intra-op pool (persistent spinning workers, Dispatch when they are busy): every index is visited exactly
/// once, for any split, from concurrent callers and from loops nested in loops (which must not deadlock).
@Suite struct ThreadPoolTests {
    final class Counts: Sendable {
        let slots: Mutex<[Int]>
        init(_ n: Int) { slots = Mutex([Int](repeating: 0, count: n)) }
        func hit(_ r: Range<Int>) { slots.withLock { s in for i in r { s[i] += 1 } } }
        var allOnce: Bool { slots.withLock { $0.allSatisfy { $0 == 1 } } }
    }

    @Test(arguments: [1, 2, 3, 7, 1000, 65_537])
    func everyIndexOnce(n: Int) {
        for threads in [1, 2, 3, 8] {
            let c = Counts(n)
            ThreadPool.shared.parallelFor(n, threads: threads, cost: 1 << 20) { c.hit($0) }
            #expect(c.allOnce, "n \(n), threads \(threads)")
        }
    }

    @Test func concurrentCallersAndNestedLoops() async {
        let n = 4096
        await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var ok = true
                    for _ in 0..<50 {
                        let c = Counts(n)
                        ThreadPool.shared.parallelFor(8, threads: 2, cost: 1 << 20) { outer in
                            for o in outer {
                                ThreadPool.shared.parallelFor(n / 8, threads: 2, cost: 1 << 20) { inner in
                                    c.hit((o * (n / 8) + inner.lowerBound)..<(o * (n / 8) + inner.upperBound))
                                }
                            }
                        }
                        ok = ok && c.allOnce
                    }
                    return ok
                }
            }
            for await ok in group { #expect(ok) }
        }
    }
}
