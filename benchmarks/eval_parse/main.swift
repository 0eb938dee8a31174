// Harness of benchmarks/eval_parse_bench.sh: times the old and new CSV ChunkParser on one file (one thread).
import Foundation
struct EvalError: Error { let m: String; init(_ m: String) { self.m = m } }
struct LineRange: Sendable { var start: Int, end: Int, line: Int }
struct ParseBuffers: @unchecked Sendable {
    let bytes: UnsafeMutablePointer<UInt8>
    let out: UnsafeMutablePointer<Float>
    let lines: UnsafeBufferPointer<LineRange>
}
struct ChunkLabels: Sendable { var text: [String]; var ints: [Int]? }

let path = CommandLine.arguments[1]
let data = FileManager.default.contents(atPath: path)!
var bytes = [UInt8](data) + [0]
let n = data.count
var ranges = [LineRange]()
var s = 0, lineNo = 1
while s < n {
    var e = s; while e < n && bytes[e] != 0x0A { e += 1 }
    if e > s { ranges.append(LineRange(start: s, end: e, line: lineNo)) }
    lineNo += 1; s = e + 1
}
let header = String(decoding: bytes[ranges[0].start..<ranges[0].end], as: UTF8.self).split(separator: ",").map(String.init)
let labelIndex = header.count - 1
var slot = Array(0..<header.count); slot[labelIndex] = -1
let width = header.count - 1
let rows = ranges.count - 1
var out = [Float](repeating: 0, count: rows * width), out2 = out
let oldP = OldParser(path: path, header: header, labelIndex: labelIndex, slot: slot, width: width)
let newP = ChunkParser(path: path, header: header, labelIndex: labelIndex, slot: slot, width: width)
func time(_ f: () throws -> Void) rethrows -> Double { let t = Date(); try f(); return Date().timeIntervalSince(t) }
var to = [Double](), tn = [Double]()
try bytes.withUnsafeMutableBufferPointer { b in
    try ranges.withUnsafeBufferPointer { rb in
        for _ in 0..<5 {
            try out.withUnsafeMutableBufferPointer { o in
                let io = ParseBuffers(bytes: b.baseAddress!, out: o.baseAddress!, lines: UnsafeBufferPointer(rebasing: rb[1...]))
                to.append(try time { _ = try oldP.parse(io, 0..<rows) })
            }
            try out2.withUnsafeMutableBufferPointer { o in
                let io = ParseBuffers(bytes: b.baseAddress!, out: o.baseAddress!, lines: UnsafeBufferPointer(rebasing: rb[1...]))
                tn.append(try time { _ = try newP.parse(io, 0..<rows) })
            }
        }
    }
}
print("identical floats:", out == out2, "rows", rows)
print(String(format: "old parse (1 thread): median %.3f s; new: median %.3f s; ratio %.2fx", to.sorted()[2], tn.sorted()[2], to.sorted()[2] / tn.sorted()[2]))
