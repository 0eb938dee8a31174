// The fast paths added for evaluation overhead give exactly the results of the straightforward code they replace:
// the radix sort of score columns vs the comparison sort, top-k ranks vs a per-row sort, and labels parsed while
// reading the CSV vs `parseLabels`.
import Foundation
import OnyxTensor
import Testing
@testable import OnyxMetrics
@testable import OnyxEval

@Suite("EvalFastPaths") struct EvalFastPathTests {
    /// The comparison sort the radix sort replaces (descending, ties in sample order).
    static func reference(_ s: [Double]) -> [Int] {
        s.indices.sorted { s[$0] > s[$1] || (s[$0] == s[$1] && $0 < $1) }
    }

    @Test(arguments: [0, 1, 2, 3])
    func radixOrderEqualsComparisonSort(_ seed: UInt64) {
        var g = SplitMix64(seed: seed)
        let n = 3000
        let score: [Double] = (0..<n).map { i in
            switch g.next() % 8 {
            case 0: return Double(g.next() % 5) / 4  // many ties
            case 1: return -Double(g.next() % 3)      // negatives
            case 2: return i % 2 == 0 ? 0.0 : -0.0   // signed zeros compare equal
            case 3: return [Double.infinity, -Double.infinity, Double.leastNonzeroMagnitude, -Double.greatestFiniteMagnitude][Int(g.next() % 4)]
            default: return Double(g.next() % 1_000_000) / 1_000_000 * (seed % 2 == 0 ? 1 : 1e300)
            }
        }
        #expect(radixDescendingOrder(score) == Self.reference(score))
        #expect(descendingOrder(score) == Self.reference(score))
    }

    @Test func topKMatchesPerRowSort() throws {
        var g = SplitMix64(seed: 9)
        let k = 5, n = 400
        let rows: [[Double]] = (0..<n).map { _ in (0..<k).map { _ in Double(g.next() % 4) } }  // heavy ties
        let y: [Int] = (0..<n).map { _ in Int(g.next() % UInt64(k)) }
        for top in 1...k {
            var hits = 0
            for (t, row) in zip(y, rows) {
                let order = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 > $1) }
                if order.prefix(top).contains(t) { hits += 1 }
            }
            #expect(try topKAccuracyScore(y, rows, k: top, labels: Array(0..<k)) == Double(hits) / Double(n))
        }
    }

    @Test(arguments: [
        (["1", "2.0", "+3", " 4 ", "-5", "1e2"], true),
        (["1", "2", "cat"], false),
        (["1", "2.5"], false),
        (["0", "9007199254740993"], true),  // beyond 2^53: the reader defers to parseLabels (Int parsing)
    ])
    func csvLabelsEqualParseLabels(_ labels: [String], _ allInts: Bool) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-evalfast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("l.csv").path
        try ("a,y,b\n" + labels.enumerated().map { "\($0.offset).5,\($0.element),-\($0.offset)\n" }.joined())
            .write(toFile: path, atomically: true, encoding: .utf8)
        let d = try EvalData.csv(path: path, label: "y")
        #expect(d.labels == parseLabels(d.rawLabels)[0])
        #expect(d.labels.allSatisfy { if case .int = $0 { return true } else { return false } } == allInts)
        #expect(d.features == labels.indices.flatMap { [Float($0) + 0.5, -Float($0)] })
    }

    /// The CSV is mapped when its size is not a multiple of the page size (the zeros after the end of the file
    /// terminate the last number) and read otherwise: sizes around one and two pages, with and without a final
    /// newline, give the numbers of the text (Swift's own Float parsing is the reference). The last field is long
    /// enough (more than 19 digits) to go through strtod, which reads up to the terminator.
    @Test(arguments: [-1, 0, 1], [false, true])
    func csvAroundPageBoundaries(_ delta: Int, _ finalNewline: Bool) throws {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for pages in [1, 2] {
            let target = pages * page + delta
            var text = "x,y\n"
            var i = 0
            while text.utf8.count < target - 64 { text += "\(i % 10).25,\(i % 3)\n"; i += 1 }
            // Last row "0.5000…0,2" padded with zeros so the file is exactly `target` bytes long.
            let tail = finalNewline ? ",2\n" : ",2"
            let pad = target - text.utf8.count - "0.5".utf8.count - tail.utf8.count
            #expect(pad > 19)
            text += "0.5" + String(repeating: "0", count: pad) + tail
            #expect(text.utf8.count == target)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-evalpage-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let path = dir.appendingPathComponent("p.csv").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let d = try EvalData.csv(path: path, label: "y")
            let rows = text.split(separator: "\n").dropFirst().map { $0.split(separator: ",") }
            #expect(d.features == rows.map { Float(String($0[0]))! })
            #expect(d.rawLabels == rows.map { String($0[1]) })
        }
    }
}

