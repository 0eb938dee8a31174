import Foundation
import OnyxTensor
import OnyxEngine
import OnyxONNX

/// How activation ranges are chosen from calibration data.
public enum CalibrationMethod: String, Sendable { case minmax, percentile, entropy }
/// Layout of a statically quantized model.
public enum StaticFormat: String, Sendable { case qdq, qoperator }

/// Calibration inputs: one feed dictionary per sample batch.
public struct CalibrationSet: Sendable {
    public var feeds: [[String: Tensor]]
    public var count: Int { feeds.count }

    public static func load(path: String, model: Model, labelColumn: String) throws -> CalibrationSet {
        throw CompressError("static quantization is not implemented yet")
    }
}

public enum StaticQuantizer {
    public static func quantize(_ model: Model, calibration: CalibrationSet, method: CalibrationMethod, format: StaticFormat,
                                options: QuantizeOptions, progress: (Int) -> Void = { _ in }) throws -> (Model, QuantizeSummary) {
        throw CompressError("static quantization is not implemented yet")
    }
}
