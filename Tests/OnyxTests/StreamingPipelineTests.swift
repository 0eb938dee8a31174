// Fitting and applying a pipeline over a CSV in small chunks gives what fitting on the whole table gives (whose
// results are checked against scikit-learn in DataTests), so `prepare` / `clean` / `normalize` / `labels` can
// stream a file of any size.
import Foundation
import Onyx
import Testing

@Suite("streamed pipelines")
struct StreamingPipelineTests {
    static let cases: [[StepSpec]] = [
        [StepSpec(type: "impute", strategy: "mean"), StepSpec(type: "scale", method: "zscore"), StepSpec(type: "onehot", column: "y")],
        [StepSpec(type: "impute", strategy: "median"), StepSpec(type: "outliers", method: "iqr", action: "clip"),
         StepSpec(type: "scale", method: "robust")],
        [StepSpec(type: "impute", strategy: "most_frequent"), StepSpec(type: "outliers", method: "zscore", threshold: 1.5, action: "drop"),
         StepSpec(type: "scale", method: "minmax", range: [-1, 1]), StepSpec(type: "multilabel", column: "tags")],
        [StepSpec(type: "drop_missing", strategy: "columns", threshold: 0.1), StepSpec(type: "drop_missing", strategy: "rows"),
         StepSpec(type: "scale", method: "maxabs"), StepSpec(type: "l2", columns: ["a", "d"]), StepSpec(type: "dedupe")],
        [StepSpec(type: "impute", strategy: "constant", fill: "0"), StepSpec(type: "log1p", columns: ["b"]),
         StepSpec(type: "onehot", column: "c")],
    ]

    @Test("streamed fit + apply in 97-byte chunks = whole-table fit + apply", arguments: cases.indices)
    func streamedEqualsInMemory(_ i: Int) throws {
        let specs = Self.cases[i]
        let path = Fixtures.path("data/table.csv")
        let (whole, expected, _) = try Pipeline.fit(specs, on: try DataIO.read(path))
        var options = CSVOptions()
        options.chunkBytes = 97
        let streamed = try StreamingPipeline.fit(specs, path: path, options: options)
        #expect(streamed.input.map(\.name) == whole.input.map(\.name))
        #expect(streamed.input.map(\.kind) == whole.input.map(\.kind))
        #expect(streamed.steps.map(\.typeName) == whole.steps.map(\.typeName))

        let out = NSTemporaryDirectory() + "onyx-stream-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (rows, reports) = try StreamingPipeline.apply(streamed, input: path, output: out, chunkBytes: 97)
        #expect(rows == expected.rowCount)
        #expect(reports.count == specs.count)
        #expect(reports.last?.rowsAfter == expected.rowCount)
        let got = try DataIO.read(out)
        #expect(got.names == expected.names)
        for c in expected.columns {
            guard let want = c.doubles else { continue }
            let have = try got.doubles(c.name)
            let ok = zip(have, want).allSatisfy { a, b in
                (a.isNaN && b.isNaN) || abs(a - b) <= 1e-12 * max(1, abs(b))
            }
            #expect(have.count == want.count && ok, "\(c.name)")
        }
    }

    @Test("batch reports add up: counts summed, fixed notes once")
    func reportsMerge() throws {
        let path = Fixtures.path("data/table.csv")
        let specs = [StepSpec(type: "impute", strategy: "mean"), StepSpec(type: "onehot", column: "y")]
        let (p, _, wholeReports) = try Pipeline.fit(specs, on: try DataIO.read(path))
        let out = NSTemporaryDirectory() + "onyx-stream-\(UUID().uuidString).csv"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let (_, reports) = try StreamingPipeline.apply(p, input: path, output: out, chunkBytes: 64)
        #expect(reports.map(\.notes) == wholeReports.map(\.notes))
    }
}
