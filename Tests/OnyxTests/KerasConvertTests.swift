import Foundation
import Testing
import Onyx

/// Keras models converted by `KerasConverter`, run by Onyx and compared with Keras's own predictions.
/// Fixtures (model.keras, model.h5, input_<i>.npy, output_<i>.npy) are written by scripts/make_keras_fixtures.py;
/// scripts/check_keras_onnx.py runs the same conversions in ONNX Runtime.
@Suite struct KerasConvertTests {
    static let fixtures = ["activations", "attention", "channels_first", "cnn", "cnn_blocks", "conv1d",
                           "conv_transpose", "dot", "embedding", "group_norm", "merge", "misc", "mlp", "nested", "rnn",
                           "time_distributed"]

    static func dir(_ name: String) -> URL { Fixtures.url("keras").appendingPathComponent(name) }

    @Test func fixtureListMatchesDisk() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Fixtures.path("keras"))
            .filter { !$0.hasPrefix(".") }.sorted()
        #expect(names == (Self.fixtures + ["stateful"]).sorted())
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

    /// Stateful RNNs: state inputs default to zeros (Keras after `reset_states()`), the `_next` outputs are Keras's
    /// states after the call, and feeding them back continues the sequence as Keras's second `predict` does.
    @Test(arguments: ["keras", "h5"])
    func statefulRNNs(_ format: String) throws {
        let d = Self.dir("stateful")
        func npy(_ f: String) throws -> Tensor { try NPY.read(d.appendingPathComponent(f)) }
        let converted = try KerasConverter.convert(path: d.appendingPathComponent("model.\(format)").path)
        let session = try InferenceSession(model: try ONNXModel.load(data: try ONNXModel.serialize(converted)))
        let x = try #require(session.inputs.first?.name)
        #expect(session.inputs.first?.type.tensorShape == [.fixed(3), .fixed(4), .fixed(3)])
        let stateIns = converted.graph.inputs.map(\.name).filter { $0.contains("_state_") }
        #expect(stateIns == ["lstm_state_h", "lstm_state_c", "gru_state_h", "simple_rnn_state_h"])
        let outs = session.outputs.map(\.name)
        #expect(outs.count == 3 + 4)
        let first = try session.runValues([x: .tensor(try npy("input_0.npy"))])
        for i in 0..<3 {
            let got = try #require(first[outs[i]]?.tensor)
            #expect(maxAbsDiff(got, try npy("output_\(i).npy")) <= 1e-4, "first call, output \(i)")
        }
        var feeds: [String: Value] = [x: .tensor(try npy("second_input_0.npy"))]
        for (i, name) in stateIns.enumerated() {
            let got = try #require(first[outs[3 + i]]?.tensor)
            #expect(maxAbsDiff(got, try npy("state_\(i).npy")) <= 1e-4, "state \(name)")
            feeds[name] = .tensor(got)
        }
        let second = try session.runValues(feeds)
        for i in 0..<3 {
            let got = try #require(second[outs[i]]?.tensor)
            #expect(maxAbsDiff(got, try npy("second_output_\(i).npy")) <= 1e-4, "second call, output \(i)")
        }
    }

    /// The full-size check: keras.applications.MobileNetV2 (alpha 0.35, 96x96, random weights and
    /// BatchNormalization statistics; Fixtures/keras_full, written by scripts/make_keras_fixtures.py mobilenet_v2).
    @Test func mobileNetV2MatchesKeras() throws {
        let d = Fixtures.url("keras_full/mobilenet_v2")
        let converted = try KerasConverter.convert(path: d.appendingPathComponent("model.keras").path)
        let session = try InferenceSession(model: try ONNXModel.load(data: try ONNXModel.serialize(converted)))
        let out = try session.runValues([session.inputs[0].name: .tensor(try NPY.read(d.appendingPathComponent("input_0.npy")))])
        let got = try #require(out[session.outputs[0].name]?.tensor)
        let expected = try NPY.read(d.appendingPathComponent("output_0.npy"))
        #expect(got.shape == expected.shape)
        #expect(maxAbsDiff(got, expected) <= 1e-4)
    }

    @Test func nestedUnsupportedLayersAreListed() throws {
        let inner: [String: Any] = ["class_name": "Sequential", "config": ["name": "inner", "layers": [
            ["class_name": "Dense", "config": ["name": "d", "units": 2]],
            ["class_name": "InnerFancy", "config": ["name": "deep"]],
        ]] as [String: Any]]
        let config: [String: Any] = ["class_name": "Sequential", "config": ["name": "m", "layers": [
            ["class_name": "InputLayer", "config": ["name": "in", "batch_shape": [NSNull(), 4]]],
            inner,
            ["class_name": "TimeDistributed", "config": ["name": "td", "layer": ["class_name": "Wobble", "config": [:] as [String: Any]]]],
        ]] as [String: Any]]
        #expect {
            try KerasConverter.convert(KerasFile(config: config))
        } throws: { error in
            let m = "\(error)"
            return m.contains("InnerFancy 'deep'") && m.contains("TimeDistributed(Wobble) 'td'")
        }
    }

    /// Missing or mismatched weights give errors, never a crash: no weights at all, and every layer given another
    /// layer's weights (every fixture: attention, wrappers, nested models, stateful RNNs, convolutions, ...).
    @Test(arguments: fixtures + ["stateful"])
    func wrongWeightsGiveErrors(_ name: String) throws {
        for format in ["keras", "h5"] {
            let file = try KerasFile.load(path: Self.dir(name).appendingPathComponent("model.\(format)").path)
            if name != "dot" {  // (dot's weights are one Dense layer's: without them only that layer fails)
                #expect(throws: ConvertError.self, "\(name).\(format) without weights") {
                    try KerasConverter.convert(KerasFile(config: file.config, weights: [:], format: format))
                }
            }
            let keys = file.weights.keys.sorted()
            for shift in 1..<max(keys.count, 2) {
                var rotated: [String: KerasWeights] = [:]
                for (i, k) in keys.enumerated() { rotated[k] = file.weights[keys[(i + shift) % keys.count]] }
                if let m = try? KerasConverter.convert(KerasFile(config: file.config, weights: rotated, format: format)) {
                    _ = try? InferenceSession(model: m)
                }
            }
        }
    }

    /// Odd values in any layer config field (negative, zero, huge, wrong type, null) give errors or a model,
    /// never a crash.
    @Test(arguments: ["attention", "channels_first", "dot", "group_norm", "nested", "stateful", "time_distributed"])
    func oddConfigValuesNeverCrash(_ name: String) throws {
        let file = try KerasFile.load(path: Self.dir(name).appendingPathComponent("model.keras").path)
        guard var top = file.config["config"] as? [String: Any], let layers = top["layers"] as? [[String: Any]] else {
            Issue.record("no layers"); return
        }
        let odd: [Any] = [-1, 0, 1_000_000_000, "x", NSNull(), [1, 2, 3]]
        for (li, layer) in layers.enumerated() {
            guard let cfg = layer["config"] as? [String: Any] else { continue }
            for key in cfg.keys.sorted() where !["name", "dtype", "trainable"].contains(key)
                && !key.hasSuffix("_initializer") && !key.hasSuffix("_regularizer") && !key.hasSuffix("_constraint") {
                for v in odd {
                    var c = cfg; c[key] = v
                    var l = layer; l["config"] = c
                    var ls = layers; ls[li] = l
                    top["layers"] = ls
                    var config = file.config; config["config"] = top
                    _ = try? KerasConverter.convert(KerasFile(config: config, weights: file.weights, format: "keras"))
                }
            }
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

    /// The `latest` file format: dense link storage (40 links in one group) and the single-chunk, fixed-array,
    /// extensible-array and B-tree v2 chunk indexes, with and without filters.
    @Test func latestFormat() throws {
        let root = Fixtures.url("hdf5")
        let f = try HDF5File(bytes: [UInt8](try Data(contentsOf: root.appendingPathComponent("latest.h5"))))
        let links = try f.children(try f.address(of: "many"))
        #expect(links.count == 40)
        for i in [0, 7, 39] {
            let name = "link_\(String(format: "%02d", i))_\(String(repeating: "x", count: i % 7))"
            let a = try #require(links.first { $0.name == name }?.address, "\(name)")
            #expect(try f.readFloats(a).toArray(Float.self) == [Float(i), Float(i)])
        }
        for k in ["single", "single_gzip", "fixed", "fixed_gzip", "fixed_max", "earray", "earray_gzip", "earray_dim1", "btree2", "btree2_gzip"] {
            let got = try f.readFloats(try f.address(of: "chunked/\(k)"))
            let expected = try NPY.read(root.appendingPathComponent("latest_\(k).npy"))
            #expect(got.shape == expected.shape, "\(k)")
            #expect(maxAbsDiff(got, expected) == 0, "\(k)")
        }
        #expect(try f.attributes(f.rootAddress)["vlen"]?.string == "latest")
    }

    @Test func latestFormatKerasArchive() throws {
        let m = try KerasConverter.convert(path: Fixtures.url("hdf5").appendingPathComponent("cnn_blocks_latest.keras").path)
        let session = try InferenceSession(model: m)
        let d = Fixtures.url("keras/cnn_blocks")
        let out = try session.runValues([session.inputs[0].name: .tensor(try NPY.read(d.appendingPathComponent("input_0.npy")))])
        let got = try #require(out[session.outputs[0].name]?.tensor)
        #expect(maxAbsDiff(got, try NPY.read(d.appendingPathComponent("output_0.npy"))) <= 1e-4)
    }

    /// Reads everything in a file: every group's links, attributes and datasets.
    static func walk(_ f: HDF5File, _ a: Int, depth: Int = 0) throws {
        guard depth < 8 else { return }
        _ = try f.attributes(a)
        if try f.isDataset(a) { _ = try f.readFloats(a); return }
        for c in try f.children(a) { try walk(f, c.address, depth: depth + 1) }
    }

    @Test func truncatedLatestFormatGivesErrors() throws {
        let bytes = [UInt8](try Data(contentsOf: Fixtures.url("hdf5").appendingPathComponent("latest.h5")))
        for cut in [9, 200, bytes.count / 8, bytes.count / 3, bytes.count / 2, bytes.count - 200, bytes.count - 1] {
            #expect(throws: ConvertError.self, "cut at \(cut)") {
                let f = try HDF5File(bytes: Array(bytes.prefix(cut)))
                try Self.walk(f, f.rootAddress)
            }
        }
    }

    /// Corrupted bytes in the dense-link and chunk-index structures give errors, never a crash.
    @Test func corruptLatestFormatNeverCrashes() throws {
        let bytes = [UInt8](try Data(contentsOf: Fixtures.url("hdf5").appendingPathComponent("latest.h5")))
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        for _ in 0..<200 {
            var b = bytes
            for _ in 0..<3 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let at = Int(state >> 33) % b.count
                b[at] = UInt8(truncatingIfNeeded: state >> 13)
            }
            if let f = try? HDF5File(bytes: b) { _ = try? Self.walk(f, f.rootAddress) }
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
