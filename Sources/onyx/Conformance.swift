import ArgumentParser
import Foundation
import Onyx

struct Conformance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run ONNX backend test directories and report passes and failures.",
        discussion: """
        Example: onyx conformance .onnx-tests/node --filter 'test_(add|relu)' --report report.json
        With --ratchet FILE, exits 1 when any test named in FILE fails.
        """)

    @Argument(help: "Directory holding test directories (model.onnx + test_data_set_*).") var dir: String
    @Option(help: "Only tests whose name matches this regular expression.") var filter: String?
    @Option(help: "Write a JSON report here.") var report: String?
    @Option(help: "Tests that must pass (one name per line); failures exit 1.") var ratchet: String?
    @Option(help: "Write the names of passing tests here.") var writePassing: String?
    @Option(help: "Optimization level: none, basic, extended, all.") var level: String = "all"
    @Option(help: "Intra-op threads.") var threads: Int = ThreadPool.availableCores

    func run() throws {
        guard let lvl = OptimizationLevel(rawValue: level) else { fail("--level must be none, basic, extended or all") }
        var tests = ConformanceRunner.discover(URL(fileURLWithPath: dir))
        if tests.isEmpty { fail("no test directories (with model.onnx) under '\(dir)'") }
        if let filter {
            guard let re = try? NSRegularExpression(pattern: filter) else { fail("--filter is not a valid regular expression") }
            tests = tests.filter { t in
                let n = t.lastPathComponent
                return re.firstMatch(in: n, range: NSRange(n.startIndex..., in: n)) != nil
            }
        }
        let runner = ConformanceRunner(options: SessionOptions(threads: threads, optimizationLevel: lvl))
        let progress = Progress(total: tests.count, label: "conformance")
        var results: [ConformanceRunner.Result] = []
        var passed = 0, failed = 0, skipped = 0
        for (i, t) in tests.enumerated() {
            let r = runner.run(t)
            results.append(r)
            switch r.outcome {
            case .passed: passed += 1
            case .failed(let why):
                failed += 1
                progress.finish()
                print("FAIL \(r.name): \(why.replacingOccurrences(of: "\n", with: " ").prefix(300))")
            case .skipped: skipped += 1
            }
            progress.update(i + 1, "\(passed) passed")
        }
        progress.finish()
        if let report {
            let items: [[String: Any]] = results.map { r in
                var d: [String: Any] = ["name": r.name, "seconds": r.seconds]
                switch r.outcome {
                case .passed: d["status"] = "passed"
                case .failed(let w): d["status"] = "failed"; d["reason"] = w
                case .skipped(let w): d["status"] = "skipped"; d["reason"] = w
                }
                return d
            }
            let obj: [String: Any] = ["passed": passed, "failed": failed, "skipped": skipped, "tests": items]
            guarded {
                let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
                try data.write(to: URL(fileURLWithPath: report), options: .atomic)
            }
        }
        if let writePassing {
            let names = results.filter { $0.outcome == .passed }.map(\.name).sorted().joined(separator: "\n") + "\n"
            guarded { try Data(names.utf8).write(to: URL(fileURLWithPath: writePassing), options: .atomic) }
        }
        print("\(passed) passed, \(failed) failed, \(skipped) skipped")
        if let ratchet {
            let text = guarded { try String(contentsOfFile: ratchet, encoding: .utf8) }
            let must = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") })
            let byName = Dictionary(results.map { ($0.name, $0.outcome) }, uniquingKeysWith: { a, _ in a })
            let regressions = must.filter { byName[$0] != nil && byName[$0] != .passed }.sorted()
            let missing = must.filter { byName[$0] == nil }.sorted()
            if filter == nil && !missing.isEmpty {
                print("ratchet: \(missing.count) listed tests were not found, e.g. \(missing.prefix(5).joined(separator: ", "))")
            }
            if !regressions.isEmpty {
                print("ratchet: \(regressions.count) listed tests no longer pass: \(regressions.joined(separator: ", "))")
                throw ExitCode(1)
            }
            if filter == nil && !missing.isEmpty { throw ExitCode(1) }
            print("ratchet: all \(must.count) listed tests pass")
        }
    }
}
