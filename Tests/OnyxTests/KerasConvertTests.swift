import Foundation
import Testing
import Onyx

/// Keras models converted by `KerasConverter`, run by Onyx and compared with Keras's own predictions.
/// Fixtures (model.keras, model.h5, input_<i>.npy, output_<i>.npy) are written by scripts/make_keras_fixtures.py;
/// scripts/check_keras_onnx.py runs the same conversions in ONNX Runtime.
@Suite struct KerasConvertTests {
    static let fixtures = ["activations", "cnn", "cnn_blocks", "conv1d", "conv_transpose", "embedding", "merge",
                           "misc", "mlp", "rnn"]

    static func dir(_ name: String) -> URL { Fixtures.url("keras").appendingPathComponent(name) }

    @Test func fixtureListMatchesDisk() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("keras"))
            .filter { !$0.hasPrefix(".") }.sorted()
        #expect(names == Self.fixtures.sorted())
    }

    @Test(arguments: fixtures, ["keras", "h5"])
    func matchesKeras(_ name: String, _ format: String) throws {
        let d = Self.dir(name)
        let converted = try KerasConverter.convert(path: d.appendingPathComponent("model.\(format)").path)
        // Round-trip through the ONNX writer and reader, as `onyx convert keras` output would be used.
        let model = try ONNXModel.load(data: try ONNXModel.serialize(converted))
        let session = try InferenceSession(model: model)
        var feeds: [String: Value] = [:]
        for (i, info) in session.inputs.enumerated() {
            feeds[info.name] = .tensor(try NPY.read(d.appendingPathComponent("input_\(i).npy")))
        }
        let out = try session.runValues(feeds)
        #expect(session.outputs.count == (try FileManager.default.contentsOfDirectory(atPath: d.path)
            .filter { $0.hasPrefix("output_") }.count))
        for (i, info) in session.outputs.enumerated() {
            let expected = try NPY.read(d.appendingPathComponent("output_\(i).npy"))
            let got = try #require(out[info.name]?.tensor, "output '\(info.name)' missing")
            #expect(got.shape == expected.shape, "\(name).\(format) output \(i) shape")
            let diff = maxAbsDiff(got, expected)
            #expect(diff <= 1e-4, "\(name).\(format) output \(i): max abs diff \(diff)")
        }
    }

    @Test func batchSizeAndChannelsFirstInputs() throws {
        let d = Self.dir("cnn")
        let opts = KerasConvertOptions(opset: 18, batchSize: 3, nchwInputs: true)
        let model = try KerasConverter.convert(path: d.appendingPathComponent("model.keras").path, options: opts)
        let input = try #require(model.graph.inputs.first)
        #expect(input.type.tensorShape == [.fixed(3), .fixed(3), .fixed(12), .fixed(12)])
        let session = try InferenceSession(model: model)
        // Keras's NHWC input, transposed to NCHW with numpy-free index arithmetic.
        let x = try NPY.read(d.appendingPathComponent("input_0.npy"))
        let v = try x.toArray(Float.self)
        var t = [Float](repeating: 0, count: v.count)
        for n in 0..<3 { for h in 0..<12 { for w in 0..<12 { for c in 0..<3 {
            t[((n * 3 + c) * 12 + h) * 12 + w] = v[((n * 12 + h) * 12 + w) * 3 + c]
        } } } }
        let out = try session.runValues([input.name: .tensor(try Tensor(shape: [3, 3, 12, 12], values: t))])
        let got = try #require(out[session.outputs[0].name]?.tensor)
        #expect(maxAbsDiff(got, try NPY.read(d.appendingPathComponent("output_0.npy"))) <= 1e-4)
    }

    @Test func unknownLayersAreAllListed() throws {
        let config: [String: Any] = ["class_name": "Sequential", "config": ["name": "m", "layers": [
            ["class_name": "InputLayer", "config": ["name": "in", "batch_shape": [NSNull(), 4]]],
            ["class_name": "FancyLayer", "config": ["name": "fancy"]],
            ["class_name": "Dense", "config": ["name": "d", "units": 2]],
            ["class_name": "OtherLayer", "config": ["name": "other"]],
        ]] as [String: Any]]
        #expect {
            try KerasConverter.convert(KerasFile(config: config))
        } throws: { error in
            let m = "\(error)"
            return m.contains("FancyLayer 'fancy'") && m.contains("OtherLayer 'other'") && !m.contains("Dense")
        }
    }

    @Test func truncatedArchiveGivesAClearError() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.dir("mlp").appendingPathComponent("model.keras")))
        for cut in [10, bytes.count / 3, bytes.count / 2, bytes.count - 30, bytes.count - 1] {
            #expect(throws: ConvertError.self, "cut at \(cut)") {
                try KerasFile.load(bytes: Array(bytes.prefix(cut)))
            }
        }
    }

    @Test func truncatedHDF5GivesAClearError() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.dir("mlp").appendingPathComponent("model.h5")))
        for cut in [9, 100, 600, bytes.count / 4, bytes.count / 2, bytes.count - 100] {
            #expect(throws: ConvertError.self, "cut at \(cut)") {
                try KerasConverter.convert(KerasFile.load(bytes: Array(bytes.prefix(cut))))
            }
        }
    }

    /// Corrupted bytes anywhere in the file must give an error or a model, never a crash.
    @Test func corruptHDF5NeverCrashes() throws {
        let bytes = [UInt8](try Data(contentsOf: Self.dir("cnn").appendingPathComponent("model.h5")))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<300 {
            var b = bytes
            for _ in 0..<4 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let at = Int(state >> 33) % min(b.count, 8192)
                b[at] = UInt8(truncatingIfNeeded: state >> 13)
            }
            _ = try? KerasConverter.convert(KerasFile.load(bytes: b))
        }
    }
}

/// The HDF5 reader on storage features Keras does not use (Fixtures/hdf5, written by h5py in
/// scripts/make_keras_fixtures.py): chunked + gzip + shuffle, fletcher32, compact, big-endian, string attributes.
@Suite struct HDF5ReaderTests {
    @Test(arguments: ["earliest", "v108"])
    func readsDatasetsAndAttributes(_ format: String) throws {
        let root = Fixtures.url("hdf5")
        let f = try HDF5File(bytes: [UInt8](try Data(contentsOf: root.appendingPathComponent("\(format).h5"))))
        for (path, ref) in [("group/inner/gzip", "gzip"), ("group/inner/fletcher", "fletcher"),
                            ("group/compact", "compact"), ("group/big_endian", "big_endian")] {
            let got = try f.readFloats(try f.address(of: path))
            let expected = try NPY.read(root.appendingPathComponent("\(ref).npy"))
            #expect(got.shape == expected.shape, "\(format) \(path)")
            #expect(maxAbsDiff(got, expected) == 0, "\(format) \(path)")
        }
        let attrs = try f.attributes(f.rootAddress)
        #expect(attrs["vlen"]?.string == "a variable-length string ✓")
        #expect(attrs["fixed"]?.stringList == ["abc", "de"])
        if case .numbers(let v, let shape)? = attrs["numbers"] {
            #expect(v == [1.5, -2.0] && shape == [2])
        } else {
            Issue.record("numbers attribute missing")
        }
    }

    @Test func deflatedKerasArchive() throws {
        let root = Fixtures.url("hdf5")
        let m = try KerasConverter.convert(path: root.appendingPathComponent("mlp_deflated.keras").path)
        let session = try InferenceSession(model: m)
        let mlp = Fixtures.url("keras/mlp")
        let out = try session.runValues([session.inputs[0].name: .tensor(try NPY.read(mlp.appendingPathComponent("input_0.npy")))])
        let got = try #require(out[session.outputs[0].name]?.tensor)
        #expect(maxAbsDiff(got, try NPY.read(mlp.appendingPathComponent("output_0.npy"))) <= 1e-4)
    }
}
