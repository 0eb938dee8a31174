import Foundation
import Synchronization
import COnyxKernels

/// Intra-op parallelism. Work is split into at most `threads` contiguous chunks. The calling thread runs the first
/// chunk; the others go to persistent workers that spin briefly between jobs (a hand-off then costs well under a
/// microsecond instead of waking a sleeping thread — tens of microseconds on a VM) and sleep when idle, so an idle
/// server burns no CPU. When the workers are busy (another session's loop, or a loop nested in a loop), the job runs
/// on Dispatch's worker threads instead.
public final class ThreadPool: Sendable {
    /// Threads available on this machine.
    public static let availableCores: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public static let shared = ThreadPool()

    private let workers: SpinningWorkers?

    public init() {
        workers = ThreadPool.availableCores > 1 ? SpinningWorkers(count: ThreadPool.availableCores - 1) : nil
    }

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
        // `body` does not escape: both paths below return only after every part has run.
        withoutActuallyEscaping(body) { body in
            let part: @Sendable (Int) -> Void = { i in
                let lo = i * chunk
                let hi = min(n, lo + chunk)
                if lo < hi { body(lo..<hi) }
            }
            if let workers, t - 1 <= workers.count, workers.run(parts: t, part) { return }
            DispatchQueue.concurrentPerform(iterations: t) { part($0) }
        }
    }
}

/// `count` persistent threads; worker w runs part w of the current job (part 0 is the caller's).
///
/// Safety of `@unchecked Sendable`: `job` and `parts` are written only by the thread that won `busy` (compare-exchange),
/// before it publishes the job by incrementing `generation` (sequentially consistent); workers read them only after
/// observing that new generation and before decrementing `pending`; the owner clears `job` and releases `busy` only
/// after `pending` reached zero. So no two threads ever access them concurrently with a write.
final class SpinningWorkers: @unchecked Sendable {
    let count: Int
    private let busy = Atomic<Bool>(false)
    private let generation = Atomic<Int>(0)
    private let pending = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let wake = NSCondition()
    private var job: (@Sendable (Int) -> Void)?
    private var parts = 0
    /// Spin iterations (each a `pause`) a worker waits for the next job before it sleeps (~0.1–0.5 ms).
    private static let spinLimit = 20_000

    init(count: Int) {
        self.count = count
        for w in 1...count {
            let t = Thread { self.loop(index: w) }  // the workers live as long as the process (like the shared pool)
            t.name = "onyx-intra-op-\(w)"
            t.start()
        }
    }

    /// Runs parts 0..<parts (part 0 on this thread) and returns true, or returns false at once when another job owns
    /// the workers.
    func run(parts: Int, _ part: @escaping @Sendable (Int) -> Void) -> Bool {
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else { return false }
        job = part
        self.parts = parts
        pending.store(count, ordering: .sequentiallyConsistent)
        generation.add(1, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            wake.lock(); wake.broadcast(); wake.unlock()
        }
        part(0)
        while pending.load(ordering: .acquiring) > 0 { onyx_cpu_relax() }
        job = nil
        busy.store(false, ordering: .releasing)
        return true
    }

    private func loop(index: Int) {
        var seen = 0
        while true {
            var g = generation.load(ordering: .sequentiallyConsistent)
            var spins = 0
            while g == seen && spins < SpinningWorkers.spinLimit {
                onyx_cpu_relax()
                spins += 1
                g = generation.load(ordering: .sequentiallyConsistent)
            }
            if g == seen {
                wake.lock()
                sleepers.add(1, ordering: .sequentiallyConsistent)
                g = generation.load(ordering: .sequentiallyConsistent)
                while g == seen {
                    wake.wait()
                    g = generation.load(ordering: .sequentiallyConsistent)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                wake.unlock()
            }
            seen = g
            if index < parts, let job { job(index) }
            pending.subtract(1, ordering: .releasing)
        }
    }
}
