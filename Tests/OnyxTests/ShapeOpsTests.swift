import Testing
@testable import OnyxEngine
import OnyxKernels
import OnyxTensor

// ShapeOps behaviour the conformance data does not cover: string elements, untrusted indices,
// bad shapes. Expected values come from numpy (scripts/shape_unit_refs.py).

private func runOp(_ op: String, opset: Int = 21, _ inputs: [Tensor?], attrs: [String: Attribute] = [:],
                   outputs: Int = 1) throws -> [Tensor] {
    let names = inputs.enumerated().map { $0.element == nil ? "" : "in\($0.offset)" }
    let node = Node(name: "n", opType: op, inputs: names, outputs: (0..<outputs).map { "out\($0)" }, attributes: attrs)
    let ctx = NodeContext(node: node, opset: opset, constantInputs: [:], implicitInputs: [],
                          subgraphCompiler: { _, _ in throw KernelError("no subgraphs") })
    guard let factory = OperatorTable.standard.resolve(domain: "", opType: op, opset: opset) else {
        throw KernelError("no kernel for \(op)")
    }
    let kernel = try factory(ctx)
    let run = RunContext(threads: 1, pool: ThreadPool.shared)
    return try kernel.run(inputs.map { $0.map { Value.tensor($0) } }, run).compactMap { $0.tensor }
}

private let strings2x3 = Tensor(shape: [2, 3], checkedValues: ["a", "b", "c", "d", "e", "f"])
private func i64(_ v: [Int64]) -> Tensor { Tensor(shape: [v.count], checkedValues: v) }

@Test func shapeOpsMoveStrings() throws {
    let t = try runOp("Transpose", [strings2x3])[0]
    #expect(t.shape == [3, 2] && t.strings == ["a", "d", "b", "e", "c", "f"])
    let s = try runOp("Slice", [strings2x3, i64([-1]), i64([Int64.min]), i64([1]), i64([-2])])[0]
    #expect(s.shape == [2, 2] && s.strings == ["c", "a", "f", "d"])
    let g = try runOp("Gather", [strings2x3, i64([-1, 0])], attrs: ["axis": .int(1)])[0]
    #expect(g.strings == ["c", "a", "f", "d"])
}

@Test func shapeOpsEdgePad() throws {
    let x = Tensor(shape: [1, 2], checkedValues: [Float(1), 2])
    let y = try runOp("Pad", [x, i64([0, 2, 0, 1])], attrs: ["mode": .string("edge")])[0]
    let v = try y.toArray(Float.self)
    #expect(y.shape == [1, 5] && v == [1, 1, 1, 2, 2])
}

@Test func shapeOpsRejectUntrustedIndices() throws {
    let x = Tensor(shape: [3], checkedValues: [Float(1), 2, 3])
    #expect(throws: KernelError.self) { try runOp("Gather", [x, i64([3])]) }
    #expect(throws: KernelError.self) { try runOp("Gather", [x, i64([-4])]) }
    #expect(throws: KernelError.self) { try runOp("ScatterND", [x, Tensor(shape: [1, 1], checkedValues: [Int64(7)]),
                                                                Tensor(shape: [1], checkedValues: [Float(0)])]) }
    #expect(throws: KernelError.self) { try runOp("Reshape", [x, i64([-1, -1])]) }
    #expect(throws: KernelError.self) { try runOp("Tile", [x, i64([Int64.max])]) }
    #expect(throws: KernelError.self) { try runOp("Expand", [x, i64([2, 4])]) }
}
