// A data pipeline served in front of a model: when a model version directory (or the model directory) holds
// `pipeline.yaml`, `pipeline.yml` or `pipeline.json` (a fitted `onyx data` pipeline), the model is loaded with the
// pipeline's ONNX preprocessing nodes placed in front of it (PipelineONNX.prepend). Clients then send the raw
// columns — one [N, 1] input per column: BYTES for categorical / text columns, FP32 for numeric ones (NaN, or the
// JSON string "NaN", for a missing value) — and the pipeline runs inside the model's graph, batched with it.
// The pipeline's `labels` columns are not inputs.
import Foundation
import Onyx

enum PipelineFront {
    static let names = ["pipeline.yaml", "pipeline.yml", "pipeline.json"]

    /// The pipeline file that applies to `modelPath` (…/NAME/VERSION/model.onnx): the version's own, else the
    /// model directory's; nil when there is none.
    static func pipelinePath(forModel modelPath: String) -> String? {
        let versionDir = (modelPath as NSString).deletingLastPathComponent
        let modelDir = (versionDir as NSString).deletingLastPathComponent
        for dir in [versionDir, modelDir] {
            for n in names {
                let p = (dir as NSString).appendingPathComponent(n)
                if FileManager.default.fileExists(atPath: p) { return p }
            }
        }
        return nil
    }

    /// Loads `modelPath`, with the pipeline in front of it when there is one.
    static func load(modelPath: String) throws -> Model {
        let model = try ONNXModel.load(path: modelPath)
        guard let path = pipelinePath(forModel: modelPath) else { return model }
        let pipeline = try Pipeline.load(path)
        do { return try PipelineONNX.prepend(pipeline, to: model, exclude: pipeline.labels ?? []) } catch let e as DataError {
            throw ServeError.bad("\((path as NSString).lastPathComponent): \(e.message)")
        }
    }

    /// What identifies a loaded version on disk: the model file's stamp plus its pipeline file's, so that a changed
    /// pipeline reloads the model as a changed model file does.
    static func stamp(modelPath: String) -> String? {
        guard let m = ModelRepository.fileStamp(modelPath) else { return nil }
        guard let p = pipelinePath(forModel: modelPath) else { return m }
        return m + "+" + (ModelRepository.fileStamp(p) ?? "?")
    }
}
