import Foundation
import Testing
import Onyx

/// Model compression (issue 7) on the bundled digits MLP. References come from scripts/make_compress_fixtures.py:
/// onnxruntime's outputs for the quantized / fp16 files that `onyx` wrote, accuracies measured by onnxruntime, and
/// a bigger scikit-learn MLP teacher for distillation.
@Suite struct CompressTests {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let mlpPath = repo.appendingPathComponent("Examples/models/digits_mlp/1/model.onnx").path
    static let testCSV = repo.appendingPathComponent("Examples/data/digits_test.csv").path
    static func fixture(_ name: String) -> String { Fixtures.path("compress/" + name) }

    static func reference() throws -> [String: Double] {
        let data = try Data(contentsOf: URL(fileURLWithPath: fixture("reference.json")))
        let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        return obj.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// Onyx's probabilities for the test rows.
    static func probabilities(_ model: Model, _ data: LabeledData) throws -> Tensor {
        let s = try InferenceSession(model: model)
        let name = model.graph.feedableInputs[0].name
        let out = try s.run([name: data.batch(0..<data.rows)], outputNames: ["probabilities"])
        return try #require(out["probabilities"])
    }

    @Test func dynamicInt8AccuracyWithinOnePointAndMatchesOnnxRuntime() throws {
        let ref = try Self.reference()
        let data = try LabeledData.csv(path: Self.testCSV)
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        let fp32Acc = try Accuracy.evaluate(model: fp32, data: data)
        #expect(abs(fp32Acc - (ref["fp32_accuracy"] ?? -1)) < 1e-9)
        for (perChannel, file) in [(false, "digits_mlp_int8"), (true, "digits_mlp_int8_pc")] {
            var o = QuantizeOptions()
            o.perChannel = perChannel
            let (q, summary) = try DynamicQuantizer.quantize(fp32, options: o)
            #expect(summary.quantized.count == 2)
            #expect(summary.warnings.isEmpty)
            #expect(q.graph.nodes.filter { $0.opType == "MatMulInteger" }.count == 2)
            #expect(q.graph.nodes.filter { $0.opType == "DynamicQuantizeLinear" }.count == 2)
            let acc = try Accuracy.evaluate(model: q, data: data)
            #expect(abs(acc - fp32Acc) <= 0.01, "int8 \(acc) vs fp32 \(fp32Acc)")
            #expect(abs(acc - (ref[file + "_ort_accuracy"] ?? -1)) < 1e-9)
            // onnxruntime ran the committed file Onyx wrote; the fresh quantization computes the same outputs.
            let ortProbs = try NPY.read(URL(fileURLWithPath: Self.fixture(file + "_ort_probabilities.npy")))
            #expect(maxAbsDiff(try Self.probabilities(q, data), ortProbs) < 1e-4)
            #expect(maxAbsDiff(try Self.probabilities(try ONNXModel.load(path: Self.fixture(file + ".onnx")), data), ortProbs) < 1e-4)
            #expect(try ONNXModel.serialize(q).count < (try ONNXModel.serialize(fp32).count) / 2)
        }
    }

    @Test func excludedAndUnsupportedNodesStayFloat() throws {
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        var o = QuantizeOptions()
        o.exclude = ["MatMul1"]
        let (q, s) = try DynamicQuantizer.quantize(fp32, options: o)
        #expect(s.quantized == ["MatMul"])
        #expect(q.graph.nodes.contains { $0.name == "MatMul1" && $0.opType == "MatMul" })
        // A MatMul whose weight is computed at run time cannot get int8 initializers: warned by name, left in float.
        var m = fp32
        m.graph.nodes[1].inputs[1] = "cast_input"
        let (q2, s2) = try DynamicQuantizer.quantize(m)
        #expect(s2.warnings.count == 1)
        #expect(s2.warnings.first?.contains("'MatMul'") == true)
        #expect(q2.graph.nodes.contains { $0.name == "MatMul" && $0.opType == "MatMul" })
    }

    @Test(arguments: [(CalibrationMethod.minmax, StaticFormat.qdq, "digits_mlp_static_qdq"),
                      (CalibrationMethod.entropy, StaticFormat.qoperator, "digits_mlp_static_qop")])
    func staticInt8WithinOnePointAndMatchesOnnxRuntime(_ method: CalibrationMethod, _ format: StaticFormat, _ file: String) throws {
        let data = try LabeledData.csv(path: Self.testCSV)
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        let cal = try CalibrationSet.load(path: Self.fixture("digits_train.csv"), model: fp32)
        let (q, s) = try StaticQuantizer.quantize(fp32, calibration: cal, method: method, format: format, options: QuantizeOptions())
        #expect(s.quantized.count == 2)
        let ops = Set(q.graph.nodes.map(\.opType))
        #expect(format == .qdq ? ops.contains("QuantizeLinear") && ops.contains("MatMul") : ops.contains("QLinearMatMul"))
        let fp32Acc = try Accuracy.evaluate(model: fp32, data: data)
        #expect(abs(try Accuracy.evaluate(model: q, data: data) - fp32Acc) <= 0.01)
        let ortProbs = try NPY.read(URL(fileURLWithPath: Self.fixture(file + "_ort_probabilities.npy")))
        #expect(maxAbsDiff(try Self.probabilities(q, data), ortProbs) < 1e-4)
    }

    @Test func convQuantizationMatchesOnnxRuntime() throws {
        let cnn = try ONNXModel.load(path: Self.fixture("small_cnn.onnx"))
        let x = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_input.npy")))
        var o = QuantizeOptions()
        o.perChannel = true
        let (dyn, ds) = try DynamicQuantizer.quantize(cnn, options: o)
        #expect(ds.quantized == ["conv1", "conv2", "conv3", "fc"])
        #expect(dyn.graph.nodes.filter { $0.opType == "ConvInteger" }.count == 3)
        let ortDyn = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_int8_ort_output.npy")))
        #expect(maxAbsDiff(try #require(try InferenceSession(model: dyn).run(["x": x])["probabilities"]), ortDyn) < 1e-5)
        // Static QOperator, calibrated on an .npz (np.savez).
        let cal = try CalibrationSet.load(path: Self.fixture("small_cnn_calibration.npz"), model: cnn)
        #expect(cal.count == 1)
        let (st, ss) = try StaticQuantizer.quantize(cnn, calibration: cal, method: .minmax, format: .qoperator, options: o)
        #expect(ss.quantized.count == 4)
        #expect(st.graph.nodes.filter { $0.opType == "QLinearConv" }.count == 3)
        let ortSt = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_static_qop_ort_output.npy")))
        #expect(maxAbsDiff(try #require(try InferenceSession(model: st).run(["x": x])["probabilities"]), ortSt) < 1e-4)
    }

    @Test func calibrationSetThatDoesNotFitIsRejectedBeforeWork() throws {
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        let narrow = Tensor(shape: [4, 60], checkedValues: [Float](repeating: 0, count: 240))
        #expect {
            try CalibrationSet(feeds: [["X": narrow]], model: fp32)
        } throws: { e in
            "\(e)" == "calibration sample 1: input 'X' has shape [4, 60] but the model expects [batch, 64]"
        }
        let wrongType = Tensor(shape: [4, 64], checkedValues: [Double](repeating: 0, count: 256))
        #expect(throws: CompressError.self) { try CalibrationSet(feeds: [["X": wrongType]], model: fp32) }
    }

    @Test func float16AccuracyWithinPointTwoAndMatchesOnnxRuntime() throws {
        let data = try LabeledData.csv(path: Self.testCSV)
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        var o = PrecisionOptions()
        o.keepIOFloat32 = true
        let (h, _) = try PrecisionConverter.toFloat16(fp32, options: o)
        #expect(h.graph.initializers.filter { $0.tensor.dtype == .float16 }.count == 4)
        #expect(h.graph.initializers.allSatisfy { $0.tensor.dtype != .float32 })
        let acc = try Accuracy.evaluate(model: h, data: data)
        let fp32Acc = try Accuracy.evaluate(model: fp32, data: data)
        #expect(abs(acc - fp32Acc) <= 0.002, "fp16 \(acc) vs fp32 \(fp32Acc)")
        let ortProbs = try NPY.read(URL(fileURLWithPath: Self.fixture("digits_mlp_fp16_ort_probabilities.npy")))
        #expect(maxAbsDiff(try Self.probabilities(h, data), ortProbs) < 2e-3)
        // Without --keep-io-fp32 the input itself is float16.
        let (h2, _) = try PrecisionConverter.toFloat16(fp32)
        #expect(h2.graph.inputs[0].type.tensorDType == .float16)
        #expect(abs(try Accuracy.evaluate(model: h2, data: data) - fp32Acc) <= 0.002)
    }

    @Test func unstructuredPruningReachesSparsityPerLayer() throws {
        let fp32 = try ONNXModel.load(path: Self.mlpPath)
        let (p, layers) = try Pruner.unstructured(fp32, sparsity: 0.5)
        #expect(layers.map(\.weight) == ["coefficient", "coefficient1"])
        for l in layers { #expect(abs(l.after - 0.5) < 0.01) }
        let w = try #require(p.graph.initializers.first { $0.name == "coefficient" }?.tensor)
        let orig = try #require(fp32.graph.initializers.first { $0.name == "coefficient" }?.tensor)
        let kept = try w.toArray(Float.self), all = try orig.toArray(Float.self)
        // The kept weights are the largest in magnitude, unchanged.
        let minKept = zip(kept, all).filter { $0.0 != 0 }.map { abs($0.1) }.min() ?? 0
        let maxCut = zip(kept, all).filter { $0.0 == 0 }.map { abs($0.1) }.max() ?? 0
        #expect(minKept >= maxCut)
        #expect(zip(kept, all).allSatisfy { $0.0 == 0 || $0.0 == $0.1 })
        #expect(throws: CompressError.self) { try Pruner.unstructured(fp32, sparsity: 1.5) }
    }

    @Test func structuredChannelPruningRemovesChannelsAndMatchesOnnxRuntime() throws {
        let cnn = try ONNXModel.load(path: Self.fixture("small_cnn.onnx"))
        let r = try ChannelPruner.prune(cnn, sparsity: 0.5)
        #expect(r.layers.map(\.node) == ["conv1", "conv2", "conv3"])
        let shapes = Dictionary(uniqueKeysWithValues: r.model.graph.initializers.map { ($0.name, $0.tensor.shape) })
        #expect(shapes["c1_w"] == [16, 3, 3, 3] && shapes["c1_b"] == [16] && shapes["bn_var"] == [16])
        #expect(shapes["c2_w"] == [32, 16, 3, 3] && shapes["c3_w"] == [32, 32, 3, 3] && shapes["c3_b"] == [32, 1, 1])
        #expect(shapes["fc_w"] == [10, 32])
        // onnxruntime ran the file `onyx prune` wrote; a fresh prune computes the same outputs in Onyx.
        let x = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_input.npy")))
        let ort = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_pruned50_ort_output.npy")))
        let out = try InferenceSession(model: r.model).run(["x": x])["probabilities"]
        #expect(maxAbsDiff(try #require(out), ort) < 1e-5)
        let orig = try NPY.read(URL(fileURLWithPath: Self.fixture("small_cnn_ort_output.npy")))
        #expect(maxAbsDiff(try #require(try InferenceSession(model: cnn).run(["x": x])["probabilities"]), orig) < 1e-5)
        // The digits MLP: the hidden layer loses half its units; the output layer its matching rows.
        let mlp = try ONNXModel.load(path: Self.mlpPath)
        let m = try ChannelPruner.prune(mlp, sparsity: 0.5)
        #expect(m.model.graph.initializers.first { $0.name == "coefficient1" }?.tensor.shape == [32, 10])
        #expect(m.model.graph.initializers.first { $0.name == "intercepts" }?.tensor.shape == [1, 32])
    }

    @Test func distilledStudentKeeps95PercentOfTeacherWithQuarterOfParameters() throws {
        let ref = try Self.reference()
        let teacher = try ONNXModel.load(path: Self.fixture("digits_teacher.onnx"))
        let train = try LabeledData.csv(path: Self.fixture("digits_train.csv"))
        let test = try LabeledData.csv(path: Self.testCSV)
        var o = DistillOptions()
        o.epochs = 30
        let (student, net) = try Distiller.distill(teacher: teacher, data: train, hidden: [32], options: o)
        let teacherAcc = try Accuracy.evaluate(model: teacher, data: test)
        #expect(abs(teacherAcc - (ref["teacher_accuracy"] ?? -1)) < 1e-9)
        let studentAcc = try Accuracy.evaluate(model: student, data: test)
        #expect(studentAcc >= 0.95 * teacherAcc, "student \(studentAcc) vs teacher \(teacherAcc)")
        #expect(Double(net.parameterCount) <= 0.25 * (ref["teacher_parameters"] ?? 0))
        // The exported graph agrees with the trainer's own forward pass.
        let probs = try Self.probabilities(student, test)
        let direct = MLPTrainer.predict(net, x: test.features)
        #expect(maxAbsDiff(probs, Tensor(shape: probs.shape, checkedValues: direct)) < 1e-5)
        #expect(throws: CompressError.self) { try Distiller.parseStudent("cnn:3") }
    }
}
