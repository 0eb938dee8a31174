import Foundation
import Testing
import Onyx

/// Real scikit-learn models converted by skl2onnx, compared with onnxruntime's outputs.
/// Fixtures are written by scripts/make_sklearn_fixtures.py (model.onnx, input.npy, output_<i>.npy and, for a
/// ZipMap output, output_<i>_keys.npy with the probabilities as a 2-D array).
@Suite struct SklearnModelTests {
    /// Every fixture directory. Models marked † also need ai.onnx operators from other families
    /// (Cast, Mul, Add, MatMul, Relu, Softmax, Reshape, Concat, Gather, ArgMax, Scan, TopK…).
    static let fixtures = [
        "logreg_iris", "logreg_iris_zipmap" /* † Cast */, "logreg_binary_cancer", "linreg_diabetes", "ridge_diabetes",
        "scaler_logreg_cancer", "minmax_svc_rbf_iris" /* † Cast, Mul, Add */, "svc_poly_iris" /* † */,
        "svc_linear_binary_cancer" /* † Cast */, "svr_diabetes" /* † Cast */, "svr_sigmoid_diabetes" /* † Cast */,
        "oneclass_svm_iris" /* † Cast, Sign */, "linearsvc_iris", "decision_tree_iris", "decision_tree_regressor_diabetes",
        "random_forest_iris", "random_forest_binary_cancer", "random_forest_regressor_diabetes",
        "gradient_boosting_regressor_diabetes", "gradient_boosting_iris" /* † Identity */,
        "gradient_boosting_binary_cancer" /* † Identity */, "mlp_digits" /* † */, "knn_iris" /* † */,
        "normalizer_linreg_diabetes", "imputer_onehot_logreg_iris" /* † Gather, Cast, Reshape, Concat */,
    ]

    static func root() throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw FixtureError("the Fixtures resource folder is missing from the test bundle")
        }
        return url.appendingPathComponent("sklearn")
    }

    struct FixtureError: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    @Test func fixtureListMatchesDisk() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: try Self.root().path)
            .filter { !$0.hasPrefix(".") }.sorted()
        #expect(names == Self.fixtures.sorted())
    }

    @Test(arguments: fixtures)
    func matchesOnnxRuntime(_ name: String) throws {
        let dir = try Self.root().appendingPathComponent(name)
        let model = try ONNXModel.load(path: dir.appendingPathComponent("model.onnx").path)
        let session = try InferenceSession(model: model)
        let input = try NPY.read(dir.appendingPathComponent("input.npy"))
        let inputName = try #require(session.inputs.first?.name)
        let out = try session.runValues([inputName: .tensor(input)])
        for (i, info) in session.outputs.enumerated() {
            let expectedURL = dir.appendingPathComponent("output_\(i).npy")
            let expected = try NPY.read(expectedURL)
            let got = try #require(out[info.name], "output '\(info.name)' missing")
            let keysURL = dir.appendingPathComponent("output_\(i)_keys.npy")
            if FileManager.default.fileExists(atPath: keysURL.path) {
                try compareZipMap(got, expected, keys: try NPY.read(keysURL), name: "\(name)/\(info.name)")
            } else {
                let t = try #require(got.tensor, "output '\(info.name)' is \(got.kindName), expected a tensor")
                try compare(t, expected, name: "\(name)/\(info.name)")
            }
        }
    }

    /// Labels and integers exactly; floats within 1e-4 absolute + 1e-4 relative.
    func compare(_ got: Tensor, _ want: Tensor, name: String) throws {
        #expect(got.shape == want.shape, "\(name): shape \(got.shape), expected \(want.shape)")
        guard got.shape == want.shape else { return }
        if want.dtype == .string {
            #expect(got.strings == want.strings, "\(name): labels differ")
            return
        }
        #expect(got.dtype == want.dtype, "\(name): dtype \(got.dtype), expected \(want.dtype)")
        var bad = 0
        var first = ""
        for k in 0..<want.count {
            let a = got.doubleValue(at: k), b = want.doubleValue(at: k)
            let ok = want.dtype.isFloatingPoint ? (abs(a - b) <= 1e-4 + 1e-4 * abs(b) || (a.isNaN && b.isNaN)) : a == b
            if !ok {
                if bad == 0 { first = "element \(k): \(a) vs \(b)" }
                bad += 1
            }
        }
        #expect(bad == 0, "\(name): \(bad) of \(want.count) elements differ, first \(first)")
    }

    /// A ZipMap output (sequence of maps) against the probabilities matrix and the class keys.
    func compareZipMap(_ got: Value, _ want: Tensor, keys: Tensor, name: String) throws {
        guard case .sequence(let items, _) = got else {
            Issue.record("\(name): expected a sequence of maps, got \(got.kindName)")
            return
        }
        #expect(items.count == want.shape[0], "\(name): \(items.count) maps, expected \(want.shape[0])")
        let cols = want.shape[1]
        for (r, item) in items.enumerated() where r < want.shape[0] {
            guard case .map(let m) = item else {
                Issue.record("\(name): row \(r) is \(item.kindName), not a map")
                return
            }
            try compare(m.keys, keys, name: "\(name)[\(r)].keys")
            let row = Tensor.uninitialized(.float32, shape: [cols])
            for c in 0..<cols { row.mutablePointer(Float.self)[c] = Float(want.doubleValue(at: r * cols + c)) }
            try compare(m.values, row, name: "\(name)[\(r)].values")
        }
    }
}
