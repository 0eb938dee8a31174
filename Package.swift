// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Onyx",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "Onyx", targets: ["Onyx"]),
        .executable(name: "onyx", targets: ["onyx"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        // Layer 0: tensors, dtypes, .npy files.
        .target(name: "OnyxTensor"),
        // Layer 1: SIMD micro-kernels (C, AVX2/FMA under target attributes, run-time CPU detection).
        .target(name: "COnyxKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // Layer 1: Swift kernels over contiguous buffers, thread pool.
        .target(name: "OnyxKernels", dependencies: ["OnyxTensor", "COnyxKernels"]),
        // Layer 2: IR, operators, executor, session.
        .target(name: "OnyxEngine", dependencies: ["OnyxTensor", "OnyxKernels"]),
        // Generated from proto/onnx/*.proto3 by scripts/gen-proto.sh.
        .target(name: "OnyxProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        // Layer 3: ONNX import/export, TensorProto files, conformance runner.
        .target(name: "OnyxONNX", dependencies: ["OnyxEngine", "OnyxKernels", "OnyxProto"]),
        // Evaluation metrics (scikit-learn definitions), CSV reading, metrics reports. Pure Swift.
        .target(name: "OnyxMetrics"),
        // Model compression: quantization, fp16, pruning, distillation.
        .target(name: "OnyxCompress", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxONNX", "OnyxKernels", "OnyxMetrics"]),
        // Umbrella library.
        .target(name: "Onyx", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxONNX", "OnyxMetrics", "OnyxCompress"]),
        // The CLI: argument parsing and printing only.
        .executableTarget(name: "onyx", dependencies: [
            "Onyx",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "OnyxTests", dependencies: ["Onyx"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
