import Foundation
import Testing
@testable import Onyx
@testable import OnyxEngine

/// ControlFlowOps checks the conformance suite does not cover: recurrent sequence_lens, Scan with reversed
/// inputs and a non-zero output axis, zero-trip Loop, error paths. Expected numbers come from onnxruntime via
/// scripts/control_reference.py.
@Suite struct ControlFlowTests {
    func f32(_ name: String, _ shape: [Int]?) -> ValueInfo {
        ValueInfo(name: name, type: .tensor(.float32, shape: shape.map { $0.map { Dim.fixed($0) } }))
    }

    func session(_ nodes: [Node], inputs: [ValueInfo], outputs: [ValueInfo], opset: Int = 21) throws -> InferenceSession {
        let g = Graph(name: "g", nodes: nodes, inputs: inputs, outputs: outputs)
        return try InferenceSession(model: Model(opsets: ["": opset], graph: g), options: SessionOptions(threads: 2))
    }

    func close(_ a: [Float], _ b: [Float]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) <= 1e-5 + 1e-4 * abs($1) }
    }

    @Test func gruBidirectionalSequenceLens() throws {
        let T = 3, B = 2, I = 2, H = 2
        let x = Tensor(shape: [T, B, I], checkedValues: (0..<(T * B * I)).map { (Float($0) - 5) / 4 })
        let w = Tensor(shape: [2, 3 * H, I], checkedValues: (0..<(2 * 3 * H * I)).map { Float($0 % 5 - 2) / 5 })
        let r = Tensor(shape: [2, 3 * H, H], checkedValues: (0..<(2 * 3 * H * H)).map { Float($0 % 7 - 3) / 7 })
        let lens = Tensor(shape: [B], checkedValues: [Int32(3), 1])
        let node = Node(name: "gru", opType: "GRU", inputs: ["X", "W", "R", "", "L"], outputs: ["Y", "Yh"],
                        attributes: ["hidden_size": .int(H), "direction": .string("bidirectional")])
        let s = try session([node], inputs: [f32("X", [T, B, I]), f32("W", [2, 3 * H, I]), f32("R", [2, 3 * H, H]),
                                             ValueInfo(name: "L", type: .tensor(.int32, shape: [.fixed(B)]))],
                            outputs: [f32("Y", nil), f32("Yh", nil)])
        let out = try s.run(["X": x, "W": w, "R": r, "L": lens])
        let y = try #require(out["Y"]), yh = try #require(out["Yh"])
        #expect(y.shape == [T, 2, B, H])
        #expect(close(try y.toArray(Float.self), [
            -0.189687, 0.332302, -0.134992, 0.199465, 0.281949, -0.067009, 0.199465, -0.052324, -0.120459, 0.228123,
            0, 0, -0.087119, 0.062842, 0, 0, 0.269402, -0.074766, 0, 0, -0.208029, 0.103618, 0, 0]))
        #expect(close(try yh.toArray(Float.self), [
            0.269402, -0.074766, -0.134992, 0.199465, 0.281949, -0.067009, 0.199465, -0.052324]))
    }

    @Test func scanReversedInputOutputAxis1() throws {
        let body = Graph(name: "body", nodes: [
            Node(name: "a", opType: "Identity", inputs: ["s"], outputs: ["s_out"]),
            Node(name: "b", opType: "Identity", inputs: ["x"], outputs: ["y"]),
        ], inputs: [f32("s", [2]), f32("x", [2])], outputs: [f32("s_out", [2]), f32("y", [2])])
        let node = Node(name: "scan", opType: "Scan", inputs: ["S", "X"], outputs: ["S_out", "Y"], attributes: [
            "body": .graph(body), "num_scan_inputs": .int(1), "scan_input_directions": .ints([1]),
            "scan_output_axes": .ints([1]),
        ])
        let s = try session([node], inputs: [f32("S", [2]), f32("X", [3, 2])], outputs: [f32("S_out", nil), f32("Y", nil)],
                            opset: 11)
        let out = try s.run(["S": Tensor(shape: [2], checkedValues: [Float(7), 8]),
                             "X": Tensor(shape: [3, 2], checkedValues: (0..<6).map { Float($0) })])
        let y = try #require(out["Y"])
        #expect(y.shape == [2, 3])
        #expect(try y.toArray(Float.self) == [4, 2, 0, 5, 3, 1])
        #expect(try #require(out["S_out"]).toArray(Float.self) == [7, 8])
    }

    @Test func loopZeroTripKeepsInitialValue() throws {
        let body = Graph(name: "body", nodes: [
            Node(name: "c", opType: "Identity", inputs: ["cond_in"], outputs: ["cond_out"]),
            Node(name: "v", opType: "Identity", inputs: ["v_in"], outputs: ["v_out"]),
            Node(name: "s", opType: "Identity", inputs: ["v_in"], outputs: ["scan"]),
        ], inputs: [ValueInfo(name: "i", type: .tensor(.int64, shape: [])), ValueInfo(name: "cond_in", type: .tensor(.bool, shape: [])),
                    f32("v_in", [2])],
           outputs: [ValueInfo(name: "cond_out", type: .tensor(.bool, shape: [])), f32("v_out", [2]), f32("scan", [2])])
        let node = Node(name: "loop", opType: "Loop", inputs: ["M", "", "V"], outputs: ["V_out", "Scan"],
                        attributes: ["body": .graph(body)])
        let s = try session([node], inputs: [ValueInfo(name: "M", type: .tensor(.int64, shape: [])), f32("V", [2])],
                            outputs: [f32("V_out", nil), f32("Scan", nil)])
        let v = Tensor(shape: [2], checkedValues: [Float(1), 2])
        let zero = try s.run(["M": Tensor(scalar: Int64(0)), "V": v])
        #expect(try #require(zero["V_out"]).toArray(Float.self) == [1, 2])
        #expect(try #require(zero["Scan"]).shape == [0, 2])
        let three = try s.run(["M": Tensor(scalar: Int64(3)), "V": v])
        #expect(try #require(three["Scan"]).shape == [3, 2])
    }

    @Test func badAttributesAndPositionsThrow() throws {
        let q = f32("Q", [1, 1, 2, 4])
        let bad = Node(name: "att", opType: "Attention", inputs: ["Q", "Q", "Q"], outputs: ["Y"],
                       attributes: ["qk_matmul_output_mode": .int(5)])
        #expect(throws: (any Error).self) { try session([bad], inputs: [q], outputs: [f32("Y", nil)], opset: 23) }

        let construct = Node(name: "c", opType: "SequenceConstruct", inputs: ["A"], outputs: ["seq"])
        let at = Node(name: "at", opType: "SequenceAt", inputs: ["seq", "P"], outputs: ["Y"])
        let s = try session([construct, at], inputs: [f32("A", [2]), ValueInfo(name: "P", type: .tensor(.int64, shape: []))],
                            outputs: [f32("Y", nil)], opset: 13)
        let a = Tensor(shape: [2], checkedValues: [Float(1), 2])
        #expect(try #require(s.run(["A": a, "P": Tensor(scalar: Int64(-1))])["Y"]).toArray(Float.self) == [1, 2])
        #expect(throws: (any Error).self) { try s.run(["A": a, "P": Tensor(scalar: Int64(1))]) }
    }
}
