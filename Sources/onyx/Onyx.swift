import ArgumentParser
import Foundation
import Onyx

@main
struct OnyxCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onyx",
        abstract: "Onyx: take trained models to production. A native ONNX runtime and toolkit in Swift.",
        subcommands: [Info.self, Run.self, Bench.self, Optimize.self, Conformance.self, Serve.self, Metrics.self, Eval.self,
                      DataCommand.self, Convert.self, Quantize.self, ConvertPrecision.self, Prune.self, Distill.self]
    )
}

/// Prints `message` to standard error and exits 1: bad input never traps.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data(("error: " + message + "\n").utf8))
    Foundation.exit(1)
}

/// Runs `body`, turning any thrown error into a one-line message and exit status 1.
func guarded<T>(_ body: () throws -> T) -> T {
    do { return try body() } catch { fail("\(error)") }
}

/// A one-line progress display on a terminal; silent when standard error is not a terminal.
final class Progress {
    let total: Int
    let label: String
    let enabled = isatty(2) == 1
    var last = Date.distantPast
    init(total: Int, label: String) { self.total = total; self.label = label }
    func update(_ done: Int, _ extra: String = "") {
        guard enabled, Date().timeIntervalSince(last) > 0.1 || done == total else { return }
        last = Date()
        let width = 30
        let filled = total > 0 ? width * done / total : width
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        FileHandle.standardError.write(Data("\r\(label) \(bar) \(done)/\(total) \(extra)\u{1B}[K".utf8))
    }
    func finish() { if enabled { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) } }
}

func shapeString(_ t: ValueType) -> String {
    switch t {
    case .tensor(let dt, let shape):
        return "\(dt) " + (shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "[unknown rank]")
    default: return t.description
    }
}

func byteString(_ n: Int) -> String {
    let d = Double(n)
    if d >= 1_073_741_824 { return String(format: "%.2f GiB", d / 1_073_741_824) }
    if d >= 1_048_576 { return String(format: "%.2f MiB", d / 1_048_576) }
    if d >= 1024 { return String(format: "%.1f KiB", d / 1024) }
    return "\(n) B"
}
