import Foundation
import Testing
@testable import Onyx
@testable import OnyxEngine

/// Elementwise family checks the conformance suite does not cover: the multi-threaded and general
/// strided broadcast paths, integer edge cases that must not trap, string casts, attribute errors.
/// Literal expected values come from numpy via scripts/elementwise_reference.py.
@Suite struct ElementwiseTests {
    func run(_ op: String, _ inputs: [Tensor], attrs: [String: Attribute] = [:], opset: Int = 21,
             threads: Int = 2) throws -> Tensor {
        let node = Node(name: "n", opType: op, inputs: inputs.indices.map { "x\($0)" }, outputs: ["y"], attributes: attrs)
        let factory = try #require(OperatorTable.standard.resolve(domain: "", opType: op, opset: opset))
        let ctx = NodeContext(node: node, opset: opset, constantInputs: [:], implicitInputs: [],
                              subgraphCompiler: { _, _ in throw KernelError("no subgraphs here") })
        let out = try factory(ctx).run(inputs.map { .tensor($0) }, RunContext(threads: threads, pool: .shared))
        return try #require(out.first?.tensor)
    }

    @Test func parallelBroadcastAdd() throws {
        // [512, 1] + [1, 300]: crosses the parallel threshold; expected a[i] + b[j].
        let m = 512, n = 300
        let a = Tensor(shape: [m, 1], checkedValues: (0..<m).map { Float($0) })
        let b = Tensor(shape: [1, n], checkedValues: (0..<n).map { Float($0) * 1000 })
        let y = try run("Add", [a, b], threads: 4)
        #expect(y.shape == [m, n])
        let v = try y.toArray(Float.self)
        var bad = 0
        for i in 0..<m { for j in 0..<n where v[i * n + j] != Float(i) + Float(j) * 1000 { bad += 1 } }
        #expect(bad == 0)
    }

    @Test func generalStridedBroadcast() throws {
        // [2,1,3,1] * [4,1,5]: no dimension collapses into a contiguous run.
        let a = Tensor(shape: [2, 1, 3, 1], checkedValues: (0..<6).map { Int32($0 + 1) })
        let b = Tensor(shape: [4, 1, 5], checkedValues: (0..<20).map { Int32($0) })
        let y = try run("Mul", [a, b], threads: 2)
        #expect(y.shape == [2, 4, 3, 5])
        let v = try y.toArray(Int32.self)
        var expected: [Int32] = []
        for i in 0..<2 { for j in 0..<4 { for k in 0..<3 { for l in 0..<5 {
            expected.append(Int32(i * 3 + k + 1) * Int32(j * 5 + l))
        } } } }
        #expect(v == expected)
    }

    @Test func incompatibleShapesThrow() throws {
        let a = Tensor(shape: [2, 3], checkedValues: [Float](repeating: 1, count: 6))
        let b = Tensor(shape: [4], checkedValues: [Float](repeating: 1, count: 4))
        #expect(throws: KernelError.self) { try run("Add", [a, b]) }
    }

    @Test func integerDivisionNeverTraps() throws {
        let x = Tensor(shape: [5], checkedValues: [Int32(7), -7, 5, Int32.min, 9])
        let y = Tensor(shape: [5], checkedValues: [Int32(0), 2, 0, -1, -4])
        #expect(try run("Div", [x, y]).toArray(Int32.self) == [0, -3, 0, -2147483648, -2])
        // Remainders by zero and of Int.min by -1 must not trap either.
        _ = try run("Mod", [x, y], attrs: ["fmod": .int(1)])
        _ = try run("Mod", [x, y])
    }

    @Test func integerModSign() throws {
        let x = Tensor(shape: [5], checkedValues: [Int32(-7), 7, -7, 7, 0])
        let y = Tensor(shape: [5], checkedValues: [Int32(3), -3, -3, 3, -5])
        #expect(try run("Mod", [x, y]).toArray(Int32.self) == [2, -2, -1, 1, 0])
        let x4 = Tensor(shape: [4], checkedValues: [Int32(-7), 7, -7, 7])
        let y4 = Tensor(shape: [4], checkedValues: [Int32(3), -3, -3, 3])
        #expect(try run("Mod", [x4, y4], attrs: ["fmod": .int(1)]).toArray(Int32.self) == [-1, 1, -1, 1])
    }

    @Test func powMixedTypes() throws {
        let x = Tensor(shape: [3], checkedValues: [Int32(2), 3, 10])
        let e = Tensor(shape: [3], checkedValues: [Float(0.5), 2, -1])
        #expect(try run("Pow", [x, e], opset: 15).toArray(Int32.self) == [1, 9, 0])
    }

    @Test func castStrings() throws {
        let f = Tensor(shape: [10], checkedValues: [Float(1.0), 0.1, 1e-5, 1.5e16, -2.5, .nan, .infinity, 123456.78, 0.0001, 3e-7])
        let s = try run("Cast", [f], attrs: ["to": .int(DType.string.rawValue)])
        #expect(s.strings == ["1.0", "0.1", "1e-05", "1.5e+16", "-2.5", "nan", "inf", "123456.78", "1e-04", "3e-07"])
        let strs = Tensor(shape: [4], checkedValues: ["1.5", "-inf", "1e3", "  42"])
        #expect(try run("Cast", [strs], attrs: ["to": .int(DType.float32.rawValue)]).toArray(Float.self) == [1.5, -.infinity, 1000, 42])
        let ints = Tensor(shape: [3], checkedValues: ["12", "-7", "0"])
        #expect(try run("Cast", [ints], attrs: ["to": .int(DType.int64.rawValue)]).toArray(Int64.self) == [12, -7, 0])
        let bad = Tensor(shape: [1], checkedValues: ["abc"])
        #expect(throws: KernelError.self) { try run("Cast", [bad], attrs: ["to": .int(DType.float32.rawValue)]) }
    }

    @Test func whereStringsBroadcast() throws {
        let c = Tensor(shape: [2, 1], checkedValues: [true, false])
        let x = Tensor(shape: [1, 2], checkedValues: ["a", "b"])
        let y = Tensor(shape: [], checkedValues: ["z"])
        let w = try run("Where", [c, x, y])
        #expect(w.shape == [2, 2])
        #expect(w.strings == ["a", "b", "z", "z"])
    }

    @Test func badAttributesAreRejected() throws {
        let x = Tensor(shape: [1], checkedValues: [Float(1)])
        #expect(throws: KernelError.self) { try run("Gelu", [x], attrs: ["approximate": .string("fast")]) }
        #expect(throws: KernelError.self) { try run("BitShift", [x, x], attrs: ["direction": .string("UP")]) }
        #expect(throws: KernelError.self) { try run("Mod", [x, x], attrs: ["fmod": .int(2)]) }
        // BitwiseAnd has no float implementation.
        #expect(throws: KernelError.self) { try run("BitwiseAnd", [x, x]) }
    }
}

extension ElementwiseTests {
    @Test func preluPerChannelSlope() throws {
        // X [1, 2, 3] with a slope of length 2 matching axis 1 only (not numpy-broadcastable):
        // the ONNX reference aligns it with that axis.
        let x = Tensor(shape: [1, 2, 3], checkedValues: [Float(-1), 2, -3, -4, 5, -6])
        let slope = Tensor(shape: [2], checkedValues: [Float(0.5), 0.25])
        let y = try run("PRelu", [x, slope], opset: 16)
        #expect(try y.toArray(Float.self) == [-0.5, 2, -1.5, -1, 5, -1.5])
    }
}
