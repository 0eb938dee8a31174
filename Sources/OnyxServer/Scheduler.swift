import Foundation
import Onyx

/// What one request gets back.
struct InferOutcome: Sendable {
    var outputs: [String: Tensor]
    var queueNs: UInt64
}

/// A queued request. Its continuation is resumed exactly once, always under the scheduler's lock.
final class PendingInference: @unchecked Sendable {
    // Safety of @unchecked Sendable: `continuation` is read and cleared only while holding `Scheduler.cond`;
    // everything else is immutable.
    let inputs: [String: Tensor]
    let outputNames: [String]
    let batchSize: Int
    let key: String
    let enqueued: UInt64
    let deadline: UInt64?
    var continuation: CheckedContinuation<InferOutcome, Error>?

    init(inputs: [String: Tensor], outputNames: [String], batchSize: Int, key: String, deadline: UInt64?) {
        self.inputs = inputs; self.outputNames = outputNames; self.batchSize = batchSize; self.key = key
        self.enqueued = nowNs(); self.deadline = deadline
    }
}

/// Runs a model version's requests on `instance_group.count` dedicated threads, gathering compatible queued requests
/// into batches (dynamic batching) up to max_batch_size, preferring the configured preferred sizes and waiting at most
/// max_queue_delay for a batch to fill. The queue is bounded; requests past their timeout are rejected.
final class Scheduler: @unchecked Sendable {
    // Safety of @unchecked Sendable: all mutable state (`queue`, `stopping`, `running`) is guarded by `cond`.
    let session: InferenceSession
    let stats: ModelStats
    let modelName: String
    let maxBatch: Int
    let batching: Bool
    let preferred: [Int]
    let delayNs: UInt64
    let maxQueue: Int
    let cond = NSCondition()
    var queue: [PendingInference] = []
    var stopping = false
    var running = 0

    init(session: InferenceSession, config: ModelConfig, stats: ModelStats) {
        self.session = session
        self.stats = stats
        self.modelName = config.name
        self.maxBatch = max(config.maxBatchSize, 1)
        self.batching = config.maxBatchSize > 0 && config.dynamicBatching != nil
        self.preferred = (config.dynamicBatching?.preferredBatchSizes ?? []).sorted()
        self.delayNs = UInt64(config.dynamicBatching?.maxQueueDelayMicroseconds ?? 0) * 1000
        let q = config.dynamicBatching?.maxQueueSize ?? 0
        self.maxQueue = q > 0 ? q : 4096
        for i in 0..<max(config.instanceCount, 1) {
            let t = Thread { [self] in self.workerLoop() }
            t.name = "onyx-\(config.name)-\(i)"
            t.stackSize = 8 << 20
            running += 1
            t.start()
        }
    }

    /// Queues a request and waits for its outputs.
    func infer(_ item: PendingInference) async throws -> InferOutcome {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<InferOutcome, Error>) in
            cond.lock()
            defer { cond.unlock() }
            if stopping {
                c.resume(throwing: ServeError(.unavailable, "model '\(modelName)' is unloading"))
                return
            }
            if queue.count >= maxQueue {
                c.resume(throwing: ServeError(.unavailable, "the queue of model '\(modelName)' is full (max_queue_size \(maxQueue)); retry later"))
                return
            }
            item.continuation = c
            queue.append(item)
            stats.mPending.increment()
            cond.signal()
        }
    }

    /// Rejects a request still queued past its deadline (called from a timer).
    func expire(_ item: PendingInference) {
        cond.lock()
        defer { cond.unlock() }
        guard let idx = queue.firstIndex(where: { $0 === item }) else { return }
        queue.remove(at: idx)
        stats.mPending.decrement()
        item.continuation?.resume(throwing: ServeError(.unavailable, "request timed out in the queue of model '\(modelName)'"))
        item.continuation = nil
    }

    /// Stops the workers once the queue is drained (in-flight and queued requests still complete).
    var isRetired: Bool {
        cond.lock()
        defer { cond.unlock() }
        return stopping
    }

    func retire() {
        cond.lock()
        stopping = true
        cond.broadcast()
        cond.unlock()
    }

    /// The batch size to aim for: the largest preferred size that fits, else max_batch_size.
    var target: Int { preferred.last(where: { $0 <= maxBatch }) ?? maxBatch }

    func queuedBatchable(_ key: String) -> Int {
        var n = 0
        for q in queue where q.key == key { n += q.batchSize; if n >= maxBatch { break } }
        return n
    }

    /// Seconds to wait for more requests before `deadlineNs`, or nil once it has passed. Reads the clock once:
    /// an earlier version compared against one reading and subtracted another, so a deadline passing in between
    /// wrapped the unsigned difference to ~1.8e10 s and Foundation's `NSCondition.wait(until:)` trapped on it
    /// (a crash under load on the bundled CNN). Capped at 1 s so a bad clock can never park a worker for long.
    static func queueWait(deadlineNs: UInt64, nowNs: UInt64) -> Double? {
        guard nowNs < deadlineNs else { return nil }
        return min(max(Double(deadlineNs - nowNs) / 1e9, 0.0001), 1.0)
    }

    func workerLoop() {
        while true {
            cond.lock()
            while queue.isEmpty && !stopping { cond.wait() }
            if queue.isEmpty && stopping {
                running -= 1
                cond.unlock()
                return
            }
            if batching && delayNs > 0, let head = queue.first {
                let deadline = head.enqueued &+ delayNs
                while !stopping, let h = queue.first, h === head, queuedBatchable(head.key) < target,
                      let wait = Self.queueWait(deadlineNs: deadline, nowNs: nowNs()) {
                    _ = cond.wait(until: Date(timeIntervalSinceNow: wait))
                }
            }
            // Reject anything past its deadline.
            let now = nowNs()
            queue.removeAll { item in
                guard let d = item.deadline, d <= now else { return false }
                item.continuation?.resume(throwing: ServeError(.unavailable, "request timed out in the queue of model '\(modelName)'"))
                item.continuation = nil
                stats.mPending.decrement()
                return true
            }
            guard let head = queue.first else { cond.unlock(); continue }
            var batch = [head]
            var size = head.batchSize
            queue.removeFirst()
            if batching {
                // Fill up to the largest preferred size reachable, else up to max_batch_size.
                var limit = maxBatch
                let avail = size + queuedBatchable(head.key)
                if let p = preferred.last(where: { $0 <= min(avail, maxBatch) }) { limit = p }
                var i = 0
                while i < queue.count && size < limit {
                    let q = queue[i]
                    if q.key == head.key && size + q.batchSize <= limit {
                        batch.append(q); size += q.batchSize; queue.remove(at: i)
                    } else { i += 1 }
                }
            }
            stats.mPending.decrement(by: Double(batch.count))
            var conts: [CheckedContinuation<InferOutcome, Error>?] = []
            for b in batch { conts.append(b.continuation); b.continuation = nil }
            cond.unlock()
            let results = execute(batch)
            for (k, r) in results.enumerated() {
                switch r {
                case .success(let o): conts[k]?.resume(returning: o)
                case .failure(let e): conts[k]?.resume(throwing: e)
                }
            }
        }
    }

    static func mapError(_ e: Error) -> ServeError {
        if let s = e as? ServeError { return s }
        if let o = e as? OnyxError {
            switch o {
            case .invalidInput(let m): return .bad(m)
            case .node: return .bad("inference failed: \(o)")
            default: return ServeError(.internalError, "inference failed: \(o)")
            }
        }
        return ServeError(.internalError, "inference failed: \(e)")
    }

    /// Runs one batch; on a batch failure, runs its requests one by one so one bad request cannot fail the others.
    func execute(_ batch: [PendingInference]) -> [Result<InferOutcome, Error>] {
        let start = nowNs()
        if batch.count == 1 {
            let item = batch[0]
            let t0 = nowNs()
            do {
                let out = try session.run(item.inputs, outputNames: item.outputNames)
                let t1 = nowNs()
                stats.executionDone(batchSize: item.batchSize, requests: 1, inputNs: 0, inferNs: t1 - t0, outputNs: 0)
                return [.success(InferOutcome(outputs: out, queueNs: start &- item.enqueued))]
            } catch {
                return [.failure(Self.mapError(error))]
            }
        }
        do {
            let t0 = nowNs()
            var feeds: [String: Tensor] = [:]
            for name in batch[0].inputs.keys {
                feeds[name] = try Batching.concat(batch.compactMap { $0.inputs[name] })
            }
            let t1 = nowNs()
            let out = try session.run(feeds, outputNames: batch[0].outputNames)
            let t2 = nowNs()
            let sizes = batch.map(\.batchSize)
            var split: [[String: Tensor]] = Array(repeating: [:], count: batch.count)
            for (name, t) in out {
                let parts = try Batching.split(t, sizes: sizes)
                for k in 0..<batch.count { split[k][name] = parts[k] }
            }
            let t3 = nowNs()
            stats.executionDone(batchSize: sizes.reduce(0, +), requests: batch.count, inputNs: t1 - t0, inferNs: t2 - t1, outputNs: t3 - t2)
            return batch.enumerated().map { k, item in .success(InferOutcome(outputs: split[k], queueNs: start &- item.enqueued)) }
        } catch {
            return batch.flatMap { execute([$0]) }
        }
    }
}

/// Concatenation and splitting along the first (batch) dimension.
enum Batching {
    static func concat(_ parts: [Tensor]) throws -> Tensor {
        guard let first = parts.first else { throw ServeError(.internalError, "empty batch") }
        if parts.count == 1 { return first }
        let inner = Array(first.shape.dropFirst())
        var total = 0
        for p in parts {
            guard p.dtype == first.dtype, Array(p.shape.dropFirst()) == inner, p.rank >= 1 else {
                throw ServeError(.internalError, "incompatible batch parts")
            }
            total += p.shape[0]
        }
        let shape = [total] + inner
        if first.dtype == .string {
            return Tensor(shape: shape, checkedValues: parts.flatMap(\.strings))
        }
        let out = Tensor.uninitialized(first.dtype, shape: shape)
        var off = 0
        for p in parts {
            (out.rawPointer + off).copyMemory(from: p.rawPointer, byteCount: p.byteCount)
            off += p.byteCount
        }
        return out
    }

    static func split(_ t: Tensor, sizes: [Int]) throws -> [Tensor] {
        let total = sizes.reduce(0, +)
        guard t.rank >= 1, t.shape[0] == total else {
            throw ServeError(.internalError, "output of shape \(t.shape) cannot be split into batches of \(sizes)")
        }
        let inner = Array(t.shape.dropFirst())
        let per = Tensor.count(inner)
        var out: [Tensor] = []
        var start = 0
        for s in sizes {
            if t.dtype == .string {
                let strs = t.strings
                out.append(Tensor(shape: [s] + inner, checkedValues: Array(strs[(start * per)..<((start + s) * per)])))
            } else {
                let p = Tensor.uninitialized(t.dtype, shape: [s] + inner)
                p.rawPointer.copyMemory(from: t.rawPointer + start * per * t.dtype.size, byteCount: p.byteCount)
                out.append(p)
            }
            start += s
        }
        return out
    }
}
