import Foundation
import Testing
@testable import Onyx
@testable import OnyxEngine

/// NN family checks the conformance suite does not cover: multi-threaded Conv (im2col + SGEMM across
/// threads, groups, strides, bias) and batched broadcasting MatMul, plus attribute/input errors that
/// must throw instead of trapping. Expected numbers come from numpy via scripts/nn_reference.py.
@Suite struct NNOpsTests {
    func run(_ op: String, _ inputs: [Tensor], attrs: [String: Attribute] = [:], opset: Int = 21,
             threads: Int = 2, outputs: [String] = ["y"]) throws -> [Tensor] {
        let node = Node(name: "n", opType: op, inputs: inputs.indices.map { "x\($0)" }, outputs: outputs, attributes: attrs)
        let factory = try #require(OperatorTable.standard.resolve(domain: "", opType: op, opset: opset))
        let ctx = NodeContext(node: node, opset: opset, constantInputs: [:], implicitInputs: [],
                              subgraphCompiler: { _, _ in throw KernelError("no subgraphs here") })
        let out = try factory(ctx).run(inputs.map { .tensor($0) }, RunContext(threads: threads, pool: .shared))
        return out.compactMap { $0.tensor }
    }

    func stats(_ t: Tensor) throws -> (sum: Double, sq: Double, v: [Float]) {
        let v = try t.toArray(Float.self)
        var s = 0.0, q = 0.0
        for x in v { s += Double(x); q += Double(x) * Double(x) }
        return (s, q, v)
    }

    @Test func threadedGroupedConv() throws {
        let x = Tensor(shape: [1, 8, 40, 40], checkedValues: (0..<12800).map { Float(sin(0.01 * Double($0))) })
        let w = Tensor(shape: [16, 4, 3, 3], checkedValues: (0..<576).map { Float(cos(0.1 * Double($0))) })
        let b = Tensor(shape: [16], checkedValues: (0..<16).map { Float($0) * 0.5 })
        let y = try #require(run("Conv", [x, w, b], attrs: ["group": .int(2), "pads": .ints([1, 1, 1, 1])],
                                 threads: 4).first)
        #expect(y.shape == [1, 16, 40, 40])
        let (s, q, v) = try stats(y)
        #expect(abs(s - 97334.13949066093) < 1e-1)
        #expect(abs(q - 877397.4962157281) < 1.0)
        #expect(abs(Double(v[0]) - 1.840462789892221) < 1e-4)
        #expect(abs(Double(v[7777]) - -1.1340949972109664) < 1e-4)
        #expect(abs(Double(v[25599]) - 10.464080876223044) < 1e-4)
    }

    @Test func parallelDepthwiseConv() throws {
        let x = Tensor(shape: [2, 8, 12, 12], checkedValues: (0..<2304).map { Float(sin(0.05 * Double($0))) })
        let w = Tensor(shape: [8, 1, 3, 3], checkedValues: (0..<72).map { Float(cos(0.3 * Double($0))) })
        let b = Tensor(shape: [8], checkedValues: (0..<8).map { Float($0 - 4) })
        let y = try #require(run("Conv", [x, w, b], attrs: ["group": .int(8), "pads": .ints([1, 1, 1, 1])], threads: 2).first)
        #expect(y.shape == [2, 8, 12, 12])
        let (s, q, v) = try stats(y)
        #expect(abs(s - -1124.8854825441163) < 1e-2)
        #expect(abs(q - 32389.725508404947) < 1e-1)
        #expect(abs(Double(v[0]) - -4.727782832882982) < 1e-4)
        #expect(abs(Double(v[1234]) - -6.984060008792725) < 1e-4)
        #expect(abs(Double(v[2303]) - 5.724310860812341) < 1e-4)
    }

    @Test func threadedBroadcastMatMul() throws {
        let a = Tensor(shape: [3, 1, 64, 32], checkedValues: (0..<6144).map { Float(sin(0.001 * Double($0))) })
        let b = Tensor(shape: [4, 32, 48], checkedValues: (0..<6144).map { Float(cos(0.002 * Double($0))) })
        let z = try #require(run("MatMul", [a, b], threads: 4).first)
        #expect(z.shape == [3, 4, 64, 48])
        let (s, q, v) = try stats(z)
        #expect(abs(s - -40.986452737685795) < 1e-1)
        #expect(abs(q - 213628.75979347364) < 1.0)
        #expect(abs(Double(v[0]) - -0.17776770250642815) < 1e-4)
        #expect(abs(Double(v[12345]) - 1.269793420551057) < 1e-4)
        #expect(abs(Double(v[36863]) - 0.832702839033058) < 1e-4)
    }

    @Test func einsumPermutedContraction() throws {
        // "abc,cbd->dba": batch b, contraction c, permuted output (the batched-GEMM path).
        let p = Tensor(shape: [2, 3, 4], checkedValues: (0..<24).map { Float(sin(0.1 * Double($0))) })
        let q = Tensor(shape: [4, 3, 5], checkedValues: (0..<60).map { Float(cos(0.2 * Double($0))) })
        let e = try #require(run("Einsum", [p, q], attrs: ["equation": .string("abc,cbd->dba")], opset: 12).first)
        #expect(e.shape == [5, 3, 2])
        let expected: [Double] = [-0.17733535600181582, 0.015475363748063131, -0.21782928170560112, -0.16795101305780236, -0.19481507146048072, -0.2478773686995232, -0.18976682299315595, -0.03881423029174513, -0.2105763634230451, -0.207439331567409, -0.15963266022789036, -0.25351824951783897, -0.19463288299723303, -0.09155647151498059, -0.19492843185463737, -0.23865772087421178, -0.11808625346599655, -0.24905223003220733, -0.19173956055911656, -0.14064867855738328, -0.17150930610049875, -0.26036155270859673, -0.07183207433563155, -0.2346572227822925, -0.18120217679862538, -0.18413361194044242, -0.14125264321180886, -0.27168558552251243, -0.022714207582502866, -0.21090720136435692]
        let v = try e.toArray(Float.self)
        #expect(v.count == expected.count)
        for (a, b) in zip(v, expected) { #expect(abs(Double(a) - b) < 1e-5) }
    }

    @Test func threadedLayerNorm() throws {
        let x = Tensor(shape: [256, 64], checkedValues: (0..<16384).map { Float(sin(0.37 * Double($0))) })
        let sc = Tensor(shape: [64], checkedValues: (0..<64).map { Float(1 + 0.01 * Double($0)) })
        let b = Tensor(shape: [64], checkedValues: (0..<64).map { Float(0.1 * Double($0)) })
        let out = try run("LayerNormalization", [x, sc, b], opset: 17, threads: 2)
        #expect(out.count == 3)
        let (_, q, v) = try stats(out[0])
        #expect(abs(q - 247329.3130483869) < 1.0)
        #expect(abs(Double(v[0]) - -0.06352405167522965) < 1e-4)
        #expect(abs(Double(v[9999]) - -0.12097635206353674) < 1e-4)
        #expect(abs(Double(v[16383]) - 3.9265271476755412) < 1e-4)
        #expect(out[2].shape == [256, 1])
        #expect(abs(out[2].doubleValue(at: 100) - 1.4496624280161718) < 1e-4)
    }

    @Test func threadedMaxPoolWithIndices() throws {
        let x = Tensor(shape: [1, 4, 64, 64], checkedValues: (0..<16384).map { Float(sin(0.77 * Double($0))) })
        let out = try run("MaxPool", [x], attrs: ["kernel_shape": .ints([3, 3]), "strides": .ints([2, 2]),
                                                 "pads": .ints([1, 1, 1, 1])], opset: 12, threads: 2,
                      outputs: ["y", "indices"])
        try #require(out.count == 2)
        #expect(out[0].shape == [1, 4, 32, 32])
        let (s, _, v) = try stats(out[0])
        #expect(abs(s - 3497.307177770883) < 1e-2)
        #expect(abs(Double(v[0]) - 0.6961352229118347) < 1e-6)
        #expect(abs(Double(v[2047]) - 0.6615744829177856) < 1e-6)
        #expect(abs(Double(v[4095]) - 0.24242836236953735) < 1e-6)
        let idx = try out[1].toArray(Int64.self)
        #expect(idx.reduce(0, +) == 33425559)
        #expect([idx[0], idx[2047], idx[4095]] == [1, 8063, 16255])
    }

    @Test func badAttributesAndInputsThrow() throws {
        let x = Tensor(shape: [1, 2, 4, 4], checkedValues: [Float](repeating: 1, count: 32))
        let w = Tensor(shape: [2, 2, 3, 3], checkedValues: [Float](repeating: 1, count: 36))
        #expect(throws: KernelError.self) { try run("Conv", [x, w], attrs: ["auto_pad": .string("FOO")]) }
        #expect(throws: KernelError.self) { try run("Conv", [x, w], attrs: ["group": .int(3)]) }
        #expect(throws: KernelError.self) { try run("Conv", [x, w], attrs: ["strides": .ints([0, 1])]) }
        #expect(throws: KernelError.self) { try run("Softmax", [x], attrs: ["axis": .int(4)]) }
        #expect(throws: KernelError.self) { try run("ReduceMax", [x], attrs: ["axes": .ints([1, -3])], opset: 13) }
        #expect(throws: KernelError.self) { try run("MatMul", [x, w]) }
        // Class index out of range in a loss target must throw, not trap.
        let logits = Tensor(shape: [2, 3], checkedValues: [Float](repeating: 0, count: 6))
        let target = Tensor(shape: [2], checkedValues: [Int64(1), 7])
        #expect(throws: KernelError.self) { try run("SoftmaxCrossEntropyLoss", [logits, target]) }
        // MaxUnpool index outside the output.
        let xi = Tensor(shape: [1, 1, 1, 1], checkedValues: [Float(1)])
        let ii = Tensor(shape: [1, 1, 1, 1], checkedValues: [Int64(99)])
        #expect(throws: KernelError.self) { try run("MaxUnpool", [xi, ii], attrs: ["kernel_shape": .ints([2, 2])]) }
    }
}
