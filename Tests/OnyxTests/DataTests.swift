// OnyxData against pandas 3.1.1 / scikit-learn 1.9.1: every expected value comes from
// scripts/make_data_fixtures.py (Fixtures/data/expected.json); inputs are the CSV files next to it.
import Foundation
import Onyx
import Testing

private func dataPath(_ name: String) throws -> String {
    guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
        throw DataError(file: "Fixtures", "not found in the test bundle")
    }
    return url.appendingPathComponent("data").appendingPathComponent(name).path
}

/// The scikit-learn / pandas results (read per test: a [String: Any] global is not Sendable).
private var expected: [String: Any] {
    guard let path = try? dataPath("expected.json"), let data = FileManager.default.contents(atPath: path),
          let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
    return obj
}

/// Relative error ≤ 1e-9 (absolute below 1e-12, where scikit-learn's and our rounding residue differ).
private func close(_ a: Double, _ b: Double) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) || abs(a - b) <= 1e-12
}

private func doubles(_ any: Any?) -> [Double] { (any as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } ?? [] }

@Suite("onyx data")
struct DataTests {
    @Test("column kinds and missing counts match pandas.read_csv")
    func readKinds() throws {
        let table = try DataIO.read(try dataPath("table.csv"))
        let kinds = try #require(expected["dtypes"] as? [String: String])
        let missing = try #require(expected["missing"] as? [String: Int])
        let tokens = MissingTokens()
        for c in table.columns {
            #expect((c.kind == .numeric ? "numeric" : "string") == kinds[c.name], "\(c.name)")
            let m = c.doubles.map { $0.filter(\.isNaN).count } ?? c.strings.map { $0.filter(tokens.isMissing).count } ?? -1
            #expect(m == missing[c.name], "\(c.name)")
        }
        #expect(table.rowCount == 60)
    }

    @Test("SimpleImputer statistics", arguments: ["mean", "median", "most_frequent"])
    func impute(_ strategy: String) throws {
        let table = try DataIO.read(try dataPath("table.csv"))
        let (pipeline, out, _) = try Pipeline.fit([StepSpec(type: "impute", columns: ["a", "b", "c", "d"], strategy: strategy)], on: table)
        guard case .impute(let step)? = pipeline.steps.first else { Issue.record("no impute step"); return }
        let want = try #require((expected["impute"] as? [String: Any])?[strategy] as? [String: Double])
        for (name, value) in want {
            #expect(close(step.numeric[name] ?? .nan, value), "\(strategy) \(name): \(step.numeric[name] ?? .nan) vs \(value)")
            #expect(try out.doubles(name).allSatisfy { !$0.isNaN })
        }
    }

    @Test("split sizes (train_test_split) and stratified counts (StratifiedShuffleSplit)", arguments: [0, 1, 2])
    func split(_ index: Int) throws {
        let cases = try #require(expected["split"] as? [[String: Any]])
        let c = cases[index]
        let ratios = doubles(c["ratios"])
        let table = try DataIO.read(try dataPath("table.csv"))
        let plain = try Sampling.split(table, ratios: ratios, seed: 3)
        #expect(plain.map(\.rowCount) == (c["sizes"] as? [Int]))
        let parts = try Sampling.split(table, ratios: ratios, seed: 3, stratify: "y")
        for (part, key) in zip(parts, ["stratified_train", "stratified_test"]) {
            let want = try #require(c[key] as? [String: Int])
            let y = try #require(try part.column("y").strings)
            for (cls, n) in want { #expect(y.filter { $0 == cls }.count == n, "\(key) \(cls)") }
        }
        // Every row lands in exactly one part.
        let all = parts.flatMap { (try? $0.doubles("d")) ?? [] }.sorted()
        #expect(all == (try table.doubles("d")).sorted())
    }

    @Test("three-way split covers every row once")
    func split3() throws {
        let table = try DataIO.read(try dataPath("table.csv"))
        let parts = try Sampling.split(table, ratios: [0.7, 0.15, 0.15], seed: 1, stratify: "y")
        #expect(parts.map(\.rowCount) == [42, 9, 9])
    }

    @Test("scalers fitted on train, applied to test, match scikit-learn",
          arguments: ["zscore", "minmax", "robust", "maxabs", "l2"])
    func scale(_ method: String) throws {
        let train = try DataIO.read(try dataPath("scale_train.csv"))
        var test = try DataIO.read(try dataPath("scale_test.csv"))
        let spec = StepSpec(type: "scale", method: method, range: method == "minmax" ? [-1, 2] : nil)
        let (pipeline, _, _) = try Pipeline.fit([spec], on: train)
        _ = try pipeline.apply(&test)
        let want = try #require((expected["scale"] as? [String: Any])?[method] as? [String: Any])
        if case .scale(let s)? = pipeline.steps.first {
            let params = try #require(want["params"] as? [String: Any])
            let got: [String: [Double]] = ["center": s.center, "scale": s.scale, "offset": s.offset ?? [],
                                           "dataMin": s.dataMin ?? [], "dataMax": s.dataMax ?? []]
            for (key, value) in params {
                let w = doubles(value), g = got[key] ?? []
                #expect(w.count == g.count && zip(w, g).allSatisfy { close($0, $1) }, "\(method) \(key): \(g) vs \(w)")
            }
        }
        let rows = try #require(want["test"] as? [[Double]])
        let cols = try ["u", "v", "w"].map { try test.doubles($0) }
        for (r, row) in rows.enumerated() {
            for (c, w) in row.enumerated() { #expect(close(cols[c][r], w), "\(method) row \(r) col \(c): \(cols[c][r]) vs \(w)") }
        }
    }

    @Test("one-hot layout matches OneHotEncoder / get_dummies")
    func oneHot() throws {
        var table = try DataIO.read(try dataPath("table.csv"))
        let want = try #require(expected["onehot"] as? [String: Any])
        let (pipeline, out, _) = try Pipeline.fit([StepSpec(type: "onehot", column: "y")], on: table)
        guard case .oneHot(let s)? = pipeline.steps.first else { Issue.record("no onehot step"); return }
        #expect(s.categories == want["categories"] as? [String])
        let names = try #require(want["columns"] as? [String])
        #expect(out.names == ["a", "b", "c", "d"] + names + ["tags"])
        let matrix = try #require(want["matrix"] as? [[Double]])
        for (k, name) in names.enumerated() { #expect(try out.doubles(name) == matrix.map { $0[k] }) }
        _ = try pipeline.apply(&table)
        #expect(table.names == out.names)
    }

    @Test("multi-label indicator columns match MultiLabelBinarizer")
    func multiLabel() throws {
        let table = try DataIO.read(try dataPath("table.csv"))
        let want = try #require(expected["multilabel"] as? [String: Any])
        let (pipeline, out, _) = try Pipeline.fit([StepSpec(type: "multilabel", column: "tags")], on: table)
        guard case .multiLabel(let s)? = pipeline.steps.first else { Issue.record("no multilabel step"); return }
        let classes = try #require(want["classes"] as? [String])
        #expect(s.classes == classes)
        let matrix = try #require(want["matrix"] as? [[Double]])
        for (k, c) in classes.enumerated() { #expect(try out.doubles("tags_" + c) == matrix.map { $0[k] }) }
    }

    @Test("outlier limits: IQR (numpy percentiles) and z-score (population std)", arguments: ["iqr", "zscore"])
    func outliers(_ method: String) throws {
        let table = try DataIO.read(try dataPath("table.csv"))
        let spec = StepSpec(type: "outliers", columns: ["b"], method: method, threshold: method == "iqr" ? 1.5 : 2, action: "clip")
        let (pipeline, out, _) = try Pipeline.fit([spec], on: table)
        guard case .outliers(let s)? = pipeline.steps.first else { Issue.record("no outlier step"); return }
        let want = doubles((expected["outliers"] as? [String: Any])?[method + "_b"])
        #expect(want.count == 2 && close(s.lower[0], want[0]) && close(s.upper[0], want[1]), "\(s.lower) \(s.upper) vs \(want)")
        #expect(try out.doubles("b").allSatisfy { $0.isNaN || ($0 >= s.lower[0] && $0 <= s.upper[0]) })
    }

    @Test("duplicate rows removed as pandas drop_duplicates does")
    func dedupe() throws {
        let table = try DataIO.read(try dataPath("duplicates.csv"))
        let (_, out, _) = try Pipeline.fit([StepSpec(type: "dedupe")], on: table)
        #expect(out.rowCount == expected["dedupe_rows"] as? Int)
    }

    @Test("a saved pipeline re-applies the same transformation, also streamed in small chunks")
    func pipelineRoundTrip() throws {
        let specs = [StepSpec(type: "impute", strategy: "median"), StepSpec(type: "scale", method: "zscore"),
                     StepSpec(type: "onehot", column: "y")]
        let path = try dataPath("table.csv")
        let (pipeline, fitted, _) = try Pipeline.fit(specs, on: try DataIO.read(path))
        let file = NSTemporaryDirectory() + "onyx-pipeline-\(getpid()).json"
        try pipeline.save(file)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let loaded = try Pipeline.load(file)
        var options = loaded.csvOptions()
        options.chunkBytes = 97
        let stream = try CSVStream(path: path, options: options)
        var again: Table? = nil
        while var batch = try stream.next() {
            _ = try loaded.apply(&batch)
            if again == nil { again = batch } else { try again?.append(batch) }
        }
        let result = try #require(again)
        #expect(result.names == fitted.names)
        for c in fitted.columns where c.kind == .numeric {
            #expect(try result.doubles(c.name) == c.doubles, "\(c.name)")
        }
        #expect(result.lines == fitted.lines)
    }

    @Test("RFC 4180 quoting across chunk boundaries, custom delimiter")
    func quoting() throws {
        let file = NSTemporaryDirectory() + "onyx-quote-\(getpid()).csv"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let text = "x;s\r\n" + (0..<200).map { "\($0);\"v;\"\"\($0)\"\"\nnext\"\r\n" }.joined()
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        var o = CSVOptions(); o.delimiter = UInt8(ascii: ";"); o.chunkBytes = 50; o.threads = 2
        let t = try TableReader.readCSV(file, options: o)
        #expect(t.rowCount == 200)
        #expect(try t.column("s").strings?[7] == "v;\"7\"\nnext")
        #expect(t.lines[3] == 2 + 3 * 2)
        #expect(try t.doubles("x") == (0..<200).map(Double.init))
    }

    @Test("fast number parsing agrees with Double(String)",
          arguments: ["0", "-0.0", "1.5", "3.141592653589793", "1e-5", "6.02214076e23", "-2.5E-308", "123456789012345678901",
                      "0.1", "9007199254740993", " 42 ", "1.7976931348623157e308", "4.9e-324", ".5", "5."])
    func fastFloat(_ s: String) {
        #expect(FastFloat.parse(s) == Double(s.trimmingCharacters(in: .whitespaces)), "\(s)")
    }

    @Test("bad input: one line naming file, line and column",
          arguments: [("a,b\n1,2\n3\n", "t.csv:3:2:"), ("", "empty file"), ("a,b\n1,\"open\n2,3\n", "t.csv:2:2: unclosed"),
                      ("a,b\n1,2\n3,x\n", "t.csv:3:2: column 'b'"), ("a,b\n1,2\n", "unknown column 'q'")])
    func badInput(_ input: String, _ fragment: String) throws {
        // One directory per case: parameterized cases run in parallel.
        let dir = NSTemporaryDirectory() + "onyx-bad-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "t.csv"
        try Data(input.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            var o = CSVOptions()
            if input.contains("x") { o.types = ["b": .numeric] }
            let t = try DataIO.read(file, options: o)
            _ = try Pipeline.fit([StepSpec(type: "scale", columns: ["q"])], on: t)
            Issue.record("no error for \(input.debugDescription)")
        } catch {
            let message = "\(error)".replacingOccurrences(of: dir, with: "")
            #expect(message.contains(fragment), "\(message)")
            #expect(!message.contains("\n"))
        }
    }

    @Test("merge: class column from the inputs; mismatched columns are named")
    func merge() throws {
        let a = Table(file: "a.csv", columns: [Column(name: "x", numeric: [1, 2]), Column(name: "y", numeric: [3, 4])])
        let b = Table(file: "b.csv", columns: [Column(name: "y", numeric: [5]), Column(name: "x", numeric: [6])])
        let m = try Sampling.merge([a, b], classColumn: "class", classValues: ["a", "b"])
        #expect(try m.doubles("x") == [1, 2, 6])
        #expect(try m.column("class").strings == ["a", "a", "b"])
        let c = Table(file: "c.csv", columns: [Column(name: "x", numeric: [1]), Column(name: "z", numeric: [2])])
        #expect(throws: DataError.self) { try Sampling.merge([a, c], classColumn: "class", classValues: ["a", "c"]) }
        do { _ = try Sampling.merge([a, c], classColumn: "class", classValues: ["a", "c"]) } catch {
            #expect("\(error)".contains("missing y; extra z"))
        }
    }
}
