// Times `MetricsReport.classification` (the metrics phase of `onyx eval`) on 100k synthetic rows: 10 classes,
// probabilities rounded to float32 like a model's output (softmax of random logits biased to the true class),
// and the binary class-3-vs-rest variant. Compiled by benchmarks/eval_metrics_bench.sh against two versions of
// Sources/OnyxMetrics. Usage: metricsbench time|json [ROWS]
import Foundation

var state: UInt64 = 0x9E37_79B9_7F4A_7C15
func next() -> UInt64 {  // SplitMix64
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

let mode = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "time"
let n = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 100_000 : 100_000
let k = 10
var yt = [Label](), yp = [Label](), rows = [[Double]]()
for _ in 0..<n {
    let t = Int(next() % UInt64(k))
    var z = (0..<k).map { _ in unit() * 4 }
    z[t] += 3 * unit() + 1
    let m = z.max() ?? 0
    let e = z.map { exp($0 - m) }
    let s = e.reduce(0, +)
    let p = e.map { Double(Float($0 / s)) }
    rows.append(p)
    yt.append(.int(t))
    yp.append(.int(p.indices.max { p[$0] < p[$1] || (p[$0] == p[$1] && $0 > $1) } ?? 0))
}
let classes = (0..<k).map { Label.int($0) }
let bt = yt.map { $0 == .int(3) ? Label.int(1) : Label.int(0) }, bp = yp.map { $0 == .int(3) ? Label.int(1) : Label.int(0) }
let br = rows.map { [1 - $0[3], $0[3]] }
if mode == "json" {
    print(try MetricsReport.classification(yTrue: yt, yPred: yp, scores: rows, classes: classes).json())
    print(try MetricsReport.classification(yTrue: bt, yPred: bp, scores: br, classes: [.int(0), .int(1)]).json())
    exit(0)
}
func cpu() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
}
func measure(_ name: String, _ f: () throws -> MetricsReport) rethrows {
    var first = 0.0, bestCPU = Double.infinity, bestWall = Double.infinity
    for i in 0..<5 {
        let c = cpu(), t = Date()
        _ = try f()
        let dc = cpu() - c
        if i == 0 { first = dc }
        bestCPU = min(bestCPU, dc); bestWall = min(bestWall, Date().timeIntervalSince(t))
    }
    print(String(format: "%@: CPU first %.1f ms, best %.1f ms; wall best %.1f ms", name, first * 1000, bestCPU * 1000, bestWall * 1000))
}
try measure("multiclass") { try MetricsReport.classification(yTrue: yt, yPred: yp, scores: rows, classes: classes) }
try measure("binary") { try MetricsReport.classification(yTrue: bt, yPred: bp, scores: br, classes: [.int(0), .int(1)]) }
