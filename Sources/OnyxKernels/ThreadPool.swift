import Foundation

/// Intra-op parallelism. Work is split into at most `threads` contiguous chunks and run on
/// Dispatch's worker threads, which sleep when idle (an idle server burns no CPU).
public final class ThreadPool: Sendable {
    /// Threads available on this machine.
    public static let availableCores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public static let shared = ThreadPool()

    public init() {}

    /// Calls `body` on disjoint ranges covering `0..<n`. Jobs below ~32k elementary operations
    /// run inline: the hand-off costs more than it saves.
    public func parallelFor(_ n: Int, threads: Int, cost: Int = 1, _ body: @Sendable (Range<Int>) -> Void) {
        if n <= 0 { return }
        let work = n &* max(cost, 1)
        let t = min(threads, n, max(1, work / 32_768))
        if t <= 1 {
            body(0..<n)
            return
        }
        let chunk = (n + t - 1) / t
        DispatchQueue.concurrentPerform(iterations: t) { i in
            let lo = i * chunk
            let hi = min(n, lo + chunk)
            if lo < hi { body(lo..<hi) }
        }
    }
}
