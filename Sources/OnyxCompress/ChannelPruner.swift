import Foundation
import OnyxTensor
import OnyxEngine

/// Structured pruning: removes whole output channels of Conv / Gemm / MatMul layers and rewires their consumers.
public enum ChannelPruner {
    public struct Result: Sendable {
        public var model: Model
        public var layers: [LayerSparsity]
        public var warnings: [String]
    }

    public static func prune(_ model: Model, sparsity: Double, exclude: Set<String>) throws -> Result {
        throw CompressError("structured channel pruning is not implemented yet")
    }
}
