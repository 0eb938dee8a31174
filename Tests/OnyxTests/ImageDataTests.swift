// OnyxData image preprocessing against Pillow (decoding) and torchvision (resize, crop, normalize): fixtures and
// expected arrays from scripts/make_image_fixtures.py (Fixtures/image).
import Foundation
import Onyx
import Testing

private func imageFixture(_ name: String) -> String { Fixtures.path("image/" + name) }

private struct ImageCase: Decodable {
    var image: String
    var size: [Int]?
    var resize_shorter: Int?
    var crop: [Int]?
    var scale: Double
    var mean: [Double]
    var std: [Double]
    var channels: String
    var layout: String
}

private let imageCases: [ImageCase] = {
    guard let d = try? Data(contentsOf: Fixtures.url("image/cases.json")),
          let c = try? JSONDecoder().decode([ImageCase].self, from: d) else { return [] }
    return c
}()

@Suite("ImageData") struct ImageDataTests {
    @Test(arguments: ["rgb.png", "gray.png", "rgba.png", "q420.jpg", "q444.jpg"])
    func decodesLikePillow(_ name: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("image/" + name)))
        let img = try ImageCodec.decode(bytes)
        let ref = try NPY.read(Fixtures.url("image/\(name).pixels.npy"))
        #expect(ref.shape == [img.height, img.width, 3])
        // Gray images decode to one channel; the reference is Pillow's convert("RGB") (replicated).
        var maxDiff = 0
        let want = try ref.toArray(UInt8.self)
        for i in 0..<(img.width * img.height) {
            for c in 0..<3 {
                let got = Int(img.pixels[i * img.channels + (img.channels == 1 ? 0 : c)])
                maxDiff = max(maxDiff, abs(got - Int(want[i * 3 + c])))
            }
        }
        #expect(maxDiff == 0, "\(name): max pixel difference \(maxDiff)")
    }

    @Test(arguments: Array(imageCases.enumerated()).map { $0.offset })
    func transformMatchesTorchvision(_ i: Int) throws {
        #expect(imageCases.count == 7)
        let c = imageCases[i]
        let t = try ImageTransform(size: c.size, resizeShorter: c.resize_shorter, crop: c.crop, scale: c.scale,
                                   mean: c.mean, std: c.std, channels: c.channels, layout: c.layout)
        let got = try t.batch([imageFixture(c.image)])
        let want = try NPY.read(Fixtures.url("image/case_\(i).npy"))
        #expect(got.shape == [1] + want.shape)
        let g = try got.toArray(Float.self), w = try want.toArray(Float.self)
        var worst = 0.0
        for k in 0..<min(g.count, w.count) { worst = max(worst, Double(abs(g[k] - w[k])) / max(1, Double(abs(w[k])))) }
        #expect(worst <= 2e-5, "case \(i) (\(c.image)): max relative difference \(worst)")
    }

    @Test func pipelineFileRoundTrips() throws {
        let t = try ImageTransform(resizeShorter: 20, crop: [17, 19], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channels: "bgr")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("onyx-image-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Pipeline.image(t).save(path)
        let back = try Pipeline.load(path)
        #expect(back.image == t)
        #expect(back.steps.isEmpty)
        let a = try t.batch([imageFixture("q420.jpg")]), b = try #require(back.image).batch([imageFixture("q420.jpg")])
        #expect(try a.toArray(Float.self) == b.toArray(Float.self))
    }

    @Test func imageFolderOrderIsTorchvisions() throws {
        let f = try ImageFolder(imageFixture("folder"))
        let data = try Data(contentsOf: Fixtures.url("image/folder_expected.json"))
        let exp = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        #expect(f.classes == exp["classes"] as? [String])
        let rel = f.files.map { String($0.path.dropFirst(imageFixture("folder").count + 1)) }
        #expect(rel == exp["files"] as? [String])  // notes.txt is skipped
        #expect(codePointLess("Zebra", "apple") && codePointLess("a", "ab") && !codePointLess("b", "a"))
    }

    struct BadCase: Sendable, CustomStringConvertible {
        let description: String
        let make: @Sendable () throws -> Void
    }
    @Test(arguments: [
        BadCase(description: "no size") { _ = try ImageTransform() },
        BadCase(description: "zero std") { _ = try ImageTransform(size: [4, 4], std: [0]) },
        BadCase(description: "two means") { _ = try ImageTransform(size: [4, 4], mean: [1, 2]) },
        BadCase(description: "bad layout") { _ = try ImageTransform(size: [4, 4], layout: "chw") },
        BadCase(description: "shorter without crop") { _ = try ImageTransform(resizeShorter: 8) },
        BadCase(description: "crop larger than image") { _ = try ImageTransform(size: [4, 4], crop: [5, 4]).batch([imageFixture("rgb.png")]) },
        BadCase(description: "not an image") { _ = try ImageTransform(size: [4, 4]).batch([imageFixture("cases.json")]) },
        BadCase(description: "missing file") { _ = try ImageTransform(size: [4, 4]).batch([imageFixture("nope.png")]) },
        BadCase(description: "truncated png") {
            let bytes = try [UInt8](Data(contentsOf: Fixtures.url("image/rgb.png")))
            _ = try ImageCodec.decode(Array(bytes.prefix(bytes.count / 2)))
        },
        BadCase(description: "not a folder") { _ = try ImageFolder(imageFixture("rgb.png")) },
    ])
    func badInputThrows(_ c: BadCase) {
        #expect(throws: (any Error).self, "\(c)") { try c.make() }
    }
}

/// `onyx eval` on an image folder: expected predictions and metrics are onnxruntime + scikit-learn on the
/// torchvision-preprocessed folder (scripts/make_image_fixtures.py).
@Suite("ImageEval") struct ImageEvalTests {
    static func expected() throws -> [String: Any] {
        let data = try Data(contentsOf: Fixtures.url("image/folder_expected.json"))
        return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    }

    @Test(arguments: [(1, 1), (5, 2), (64, 2)])
    func folderMatchesScikitLearn(_ batch: Int, _ workers: Int) throws {
        let exp = try Self.expected()
        let t = try ImageTransform(size: [8, 8], mean: [0.5], std: [0.25])
        let data = try EvalData.imageFolder(path: imageFixture("folder"), transform: t)
        #expect(data.rows == 12 && data.sampleShape == [3, 8, 8] && data.classNames == exp["classes"] as? [String])
        var opts = EvalOptions()
        opts.batch = batch
        opts.workers = workers
        let e = try Evaluator.evaluate(modelPath: imageFixture("color_model.onnx"), data: data, options: opts)
        #expect(e.classes == (exp["classes"] as? [String] ?? []).map { Label.string($0) })
        #expect(e.yTrue == (exp["labels"] as? [String] ?? []).map { Label.string($0) })
        #expect(e.yPred == (exp["predictions"] as? [String] ?? []).map { Label.string($0) })
        let acc = try #require(exp["accuracy"] as? Double), ll = try #require(exp["log_loss"] as? Double)
        let f1 = try #require(exp["f1_macro"] as? Double)
        let got = Dictionary(headlineMetrics(e.report), uniquingKeysWith: { a, _ in a })
        #expect(got["accuracy"] == acc)
        #expect(abs((got["f1.macro"] ?? .nan) - f1) <= 1e-12)
        // Probabilities come from our engine's float32 softmax, not onnxruntime's: close, not bit-equal.
        #expect(abs((got["log_loss"] ?? .nan) - ll) <= 1e-5 * ll)
        guard case .object(let entries) = e.report.value,
              case .array(let rows)? = entries.first(where: { $0.0 == "confusion_matrix" })?.1 else {
            Issue.record("no confusion matrix"); return
        }
        let cm = rows.map { r -> [Int] in
            guard case .array(let v) = r else { return [] }
            return v.map { if case .int(let i) = $0 { return i } else if case .number(let d) = $0 { return Int(d) } else { return -1 } }
        }
        #expect(cm == exp["confusion_matrix"] as? [[Int]])
    }

    @Test func wrongSizeOrClassCountIsAnError() throws {
        let model = imageFixture("color_model.onnx")
        let big = try EvalData.imageFolder(path: imageFixture("folder"), transform: ImageTransform(size: [9, 8]))
        #expect(throws: EvalError.self) { try Evaluator.evaluate(modelPath: model, data: big) }
        let nhwc = try EvalData.imageFolder(path: imageFixture("folder"), transform: ImageTransform(size: [8, 8], layout: "nhwc"))
        #expect(throws: EvalError.self) { try Evaluator.evaluate(modelPath: model, data: nhwc) }
        // A CSV-style model ([rows, 64]) on images.
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let digits = root.appendingPathComponent("Examples/models/digits_mlp/1/model.onnx").path
        let ok = try EvalData.imageFolder(path: imageFixture("folder"), transform: ImageTransform(size: [8, 8]))
        #expect(throws: EvalError.self) { try Evaluator.evaluate(modelPath: digits, data: ok) }
    }
}
