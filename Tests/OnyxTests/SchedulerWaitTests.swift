import Testing
@testable import OnyxServer

/// Regression: the batching worker once computed its wait as `deadline &- now` after checking `now < deadline`
/// with an earlier clock reading; when the deadline passed in between, the difference wrapped to ~1.8e10 s and
/// `NSCondition.wait(until:)` trapped, killing `onyx serve` under load (16 clients on the bundled digits CNN).
@Suite struct SchedulerWaitTests {
    @Test(arguments: [
        (deadline: UInt64(1_000), now: UInt64(2_000)),   // deadline already passed: the old code wrapped here
        (deadline: UInt64(5_000), now: UInt64(5_000)),   // exactly at the deadline
        (deadline: UInt64(0), now: UInt64.max),
    ])
    func passedDeadlineMeansNoWait(deadline: UInt64, now: UInt64) {
        #expect(Scheduler.queueWait(deadlineNs: deadline, nowNs: now) == nil)
    }

    @Test func waitIsTheRemainingTimeBounded() throws {
        // 200 µs left (a typical max_queue_delay_microseconds) → 0.0002 s.
        let w = try #require(Scheduler.queueWait(deadlineNs: 1_000_200_000, nowNs: 1_000_000_000))
        #expect(abs(w - 0.0002) < 1e-12)
        // 1 ns left still waits a short positive time; far-future deadlines are capped at 1 s.
        #expect(Scheduler.queueWait(deadlineNs: 11, nowNs: 10) == 0.0001)
        #expect(Scheduler.queueWait(deadlineNs: UInt64.max, nowNs: 0) == 1.0)
    }
}
