import Foundation
import Testing
@testable import Onyx
@testable import OnyxEngine

/// Unit tests for the quant-misc family beyond the conformance suite.
/// Expected values come from scripts/quant_misc_test_vectors.py (zlib, numpy, Python re).
@Suite struct QuantOpsTests {
    /// Runs a one-node model (default-domain opset `opset`) on named tensors.
    func runNode(_ op: String, inputs: [(String, Tensor)], outputs: [String], attributes: [String: Attribute] = [:],
                 opset: Int = 21) throws -> [String: Tensor] {
        let node = Node(name: "n", opType: op, inputs: inputs.map(\.0), outputs: outputs, attributes: attributes)
        let graph = Graph(nodes: [node],
                          inputs: inputs.map { ValueInfo(name: $0.0, type: .tensor($0.1.dtype, shape: $0.1.shape.map { .fixed($0) })) },
                          outputs: outputs.map { ValueInfo(name: $0, type: .tensor(.float32, shape: nil)) })
        let s = try InferenceSession(model: Model(opsets: ["": opset], graph: graph))
        return try s.run(Dictionary(uniqueKeysWithValues: inputs))
    }

    @Test func inflateMatchesZlib() throws {
        let compressed: [UInt8] = [120, 218, 203, 207, 171, 172, 80, 200, 135, 17, 86, 10, 133, 165, 137, 121, 37, 153, 85, 169,
                                   58, 10, 41, 169, 8, 118, 102, 94, 90, 78, 98, 73, 170, 34, 66, 229, 16, 84, 206, 192, 200, 196,
                                   204, 194, 202, 198, 206, 193, 201, 197, 205, 195, 203, 199, 47, 32, 40, 36, 44, 34, 42, 38, 46,
                                   33, 41, 37, 45, 35, 43, 39, 175, 160, 168, 164, 172, 162, 170, 166, 14, 0, 53, 238, 90, 36]
        let plain = Array(String(repeating: "onyx onyx onyx: quantize, dequantize, inflate! ", count: 5).utf8) + (0..<40).map { UInt8($0) }
        #expect(try Inflate.zlib(compressed[...], limit: 1 << 20) == plain)
        // Truncated streams and decompression bombs are errors, not traps.
        #expect(throws: InflateError.self) { try Inflate.zlib(compressed.prefix(20), limit: 1 << 20) }
        #expect(throws: InflateError.self) { try Inflate.zlib(compressed[...], limit: 10) }
    }

    @Test func quantizeRoundsHalfToEvenAndSaturates() throws {
        let x = Tensor(shape: [7], checkedValues: [Float(0.5), 1.5, 2.5, -0.5, -1.5, 300, -300])
        let out = try runNode("QuantizeLinear", inputs: [("x", x), ("s", Tensor(scalar: Float(1))), ("z", Tensor(scalar: Int8(0)))],
                              outputs: ["y"])
        let y = try #require(out["y"])
        #expect(try y.toArray(Int8.self) == [0, 2, 2, 0, -2, 127, -128])
    }

    @Test func blockedScaleShapeIsChecked() throws {
        let x = Tensor(shape: [3, 4], checkedValues: [Float](repeating: 1, count: 12))
        let s = Tensor(shape: [3, 3], checkedValues: [Float](repeating: 1, count: 9))
        do {
            _ = try runNode("QuantizeLinear", inputs: [("x", x), ("s", s)], outputs: ["y"],
                            attributes: ["axis": .int(1), "block_size": .int(2)])
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("block_size 2"))
        }
    }

    @Test func dftPadsToDFTLength() throws {
        let sig = Tensor(shape: [1, 5, 1], checkedValues: [1.0, -2.0, 0.5, 3.0, 0.25])
        let out = try runNode("DFT", inputs: [("x", sig), ("n", Tensor(scalar: Int64(7)))], outputs: ["y"],
                              attributes: ["axis": .int(1)], opset: 17)
        let y = try #require(out["y"])
        #expect(y.shape == [1, 7, 2])
        let re = [2.75, -3.286388891378486, 3.020899290002303, 2.390489601376183, 2.390489601376183, 3.020899290002303, -3.286388891378486]
        let im = [0.0, -0.11698127372813705, 4.316834270709508, -1.4223685390308838, 1.4223685390308838, -4.316834270709508, 0.11698127372813705]
        for k in 0..<7 {
            #expect(abs(y.doubleValue(at: 2 * k) - re[k]) < 1e-12)
            #expect(abs(y.doubleValue(at: 2 * k + 1) - im[k]) < 1e-12)
        }
    }

    @Test func regexIsAFullMatch() throws {
        let x = Tensor(shape: [3], checkedValues: ["ab", "a", "abc"])
        let out = try runNode("RegexFullMatch", inputs: [("x", x)], outputs: ["y"], attributes: ["pattern": .string("a|ab")], opset: 20)
        #expect(try #require(out["y"]).toArray(Bool.self) == [true, true, false])
    }
}
