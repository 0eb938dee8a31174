// Harness of benchmarks/eval_sort_bench.sh: the comparison sort of score columns vs radixDescendingOrder.
import Foundation
func comparisonOrder(_ score: [Double]) -> [Int] {
    var pairs = [(Double, Int)]()
    pairs.reserveCapacity(score.count)
    for (i, s) in score.enumerated() { pairs.append((s, i)) }
    pairs.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
    return pairs.map { $0.1 }
}
var g = SystemRandomNumberGenerator()
// A softmax-like column: 100k probabilities with 360 distinct values repeated (as the digits bench) and a random one.
let distinct = (0..<360).map { _ in Double.random(in: 0...1, using: &g) }
let cols = [(0..<100_000).map { distinct[$0 % 360] }, (0..<100_000).map { _ in Double.random(in: 0...1, using: &g) }]
for (name, c) in zip(["360 distinct values", "all distinct"], cols) {
    var a = [Double](), b = [Double]()
    var same = true
    for _ in 0..<5 {
        var t = Date(); let o1 = comparisonOrder(c); a.append(Date().timeIntervalSince(t))
        t = Date(); let o2 = radixDescendingOrder(c); b.append(Date().timeIntervalSince(t))
        same = same && o1 == o2
    }
    print(String(format: "%@: comparison sort median %.2f ms, radix %.2f ms (%.1fx), same permutation: %@", name, a.sorted()[2] * 1000, b.sorted()[2] * 1000, a.sorted()[2] / b.sorted()[2], "\(same)"))
}
