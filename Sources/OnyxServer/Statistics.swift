import Foundation
import Prometheus
import Synchronization

/// A count and a total duration, as Triton's statistics report them.
struct StatDuration: Sendable {
    var count: UInt64 = 0
    var ns: UInt64 = 0
    mutating func add(_ n: UInt64, count c: UInt64 = 1) { count &+= c; ns &+= n }
    var json: JSON { .object([("count", .uint64(count)), ("ns", .uint64(ns))]) }
}

/// Per model version statistics (the fields of Triton's ModelStatistics that perf_analyzer reads) and the
/// matching Prometheus series.
final class ModelStats: Sendable {
    struct Data: Sendable {
        var success = StatDuration(), fail = StatDuration(), queue = StatDuration()
        var computeInput = StatDuration(), computeInfer = StatDuration(), computeOutput = StatDuration()
        var inferenceCount: UInt64 = 0
        var executionCount: UInt64 = 0
        var lastInferenceMs: UInt64 = 0
        var batches: [Int: (StatDuration, StatDuration, StatDuration)] = [:]
    }
    let data = Mutex(Data())
    let name: String
    let version: Int

    let mSuccess, mFailure, mCount, mExec, mRequestUs, mQueueUs, mInputUs, mInferUs, mOutputUs: Counter
    let mPending, mInFlight: Gauge

    init(name: String, version: Int, registry: PrometheusCollectorRegistry) {
        self.name = name
        self.version = version
        let labels = [("model", name), ("version", String(version))]
        mSuccess = registry.makeCounter(name: "nv_inference_request_success", labels: labels, help: "Number of successful inference requests")
        mFailure = registry.makeCounter(name: "nv_inference_request_failure", labels: labels, help: "Number of failed inference requests")
        mCount = registry.makeCounter(name: "nv_inference_count", labels: labels, help: "Number of inferences performed (a batch of n counts n)")
        mExec = registry.makeCounter(name: "nv_inference_exec_count", labels: labels, help: "Number of model executions (batches) performed")
        mRequestUs = registry.makeCounter(name: "nv_inference_request_duration_us", labels: labels, help: "Cumulative request duration in microseconds")
        mQueueUs = registry.makeCounter(name: "nv_inference_queue_duration_us", labels: labels, help: "Cumulative time requests spent queued in microseconds")
        mInputUs = registry.makeCounter(name: "nv_inference_compute_input_duration_us", labels: labels, help: "Cumulative batch assembly time in microseconds")
        mInferUs = registry.makeCounter(name: "nv_inference_compute_infer_duration_us", labels: labels, help: "Cumulative model execution time in microseconds")
        mOutputUs = registry.makeCounter(name: "nv_inference_compute_output_duration_us", labels: labels, help: "Cumulative output split time in microseconds")
        mPending = registry.makeGauge(name: "nv_inference_pending_request_count", labels: labels, help: "Requests waiting in the queue")
        mInFlight = registry.makeGauge(name: "onyx_inference_requests_in_flight", labels: labels, help: "Requests being handled (queued or executing)")
    }

    func requestDone(success: Bool, totalNs: UInt64, queueNs: UInt64) {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        data.withLock { d in
            if success { d.success.add(totalNs); d.queue.add(queueNs) } else { d.fail.add(totalNs) }
            d.lastInferenceMs = now
        }
        (success ? mSuccess : mFailure).increment()
        mRequestUs.increment(by: Int64(totalNs / 1000))
        if success { mQueueUs.increment(by: Int64(queueNs / 1000)) }
    }

    func executionDone(batchSize: Int, requests: Int, inputNs: UInt64, inferNs: UInt64, outputNs: UInt64) {
        data.withLock { d in
            d.inferenceCount &+= UInt64(batchSize)
            d.executionCount &+= 1
            d.computeInput.add(inputNs, count: UInt64(requests))
            d.computeInfer.add(inferNs, count: UInt64(requests))
            d.computeOutput.add(outputNs, count: UInt64(requests))
            var b = d.batches[batchSize] ?? (StatDuration(), StatDuration(), StatDuration())
            b.0.add(inputNs); b.1.add(inferNs); b.2.add(outputNs)
            d.batches[batchSize] = b
        }
        mCount.increment(by: Int64(batchSize))
        mExec.increment()
        mInputUs.increment(by: Int64(inputNs / 1000))
        mInferUs.increment(by: Int64(inferNs / 1000))
        mOutputUs.increment(by: Int64(outputNs / 1000))
    }

    /// Triton's per-version statistics object.
    var json: JSON {
        let d = data.withLock { $0 }
        let zero = StatDuration().json
        return .object([
            ("name", .string(name)), ("version", .string(String(version))),
            ("last_inference", .uint64(d.lastInferenceMs)),
            ("inference_count", .uint64(d.inferenceCount)), ("execution_count", .uint64(d.executionCount)),
            ("inference_stats", .object([
                ("success", d.success.json), ("fail", d.fail.json), ("queue", d.queue.json),
                ("compute_input", d.computeInput.json), ("compute_infer", d.computeInfer.json),
                ("compute_output", d.computeOutput.json), ("cache_hit", zero), ("cache_miss", zero),
            ])),
            ("batch_stats", .array(d.batches.keys.sorted().map { k in
                let b = d.batches[k] ?? (StatDuration(), StatDuration(), StatDuration())
                return .object([("batch_size", .int(k)), ("compute_input", b.0.json), ("compute_infer", b.1.json), ("compute_output", b.2.json)])
            })),
            ("memory_usage", .array([])),
        ])
    }

    var snapshot: Data { data.withLock { $0 } }
}

@inline(__always) func nowNs() -> UInt64 { DispatchTime.now().uptimeNanoseconds }
