// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Onyx",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Onyx", targets: ["Onyx"]),
        .executable(name: "onyx", targets: ["onyx"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
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
        // Data preparation: CSV / JSON Lines / .npy reading, tables, cleaning, scaling, labels, pipelines.
        .target(name: "OnyxData", dependencies: ["OnyxTensor", "OnyxEngine"]),
        // Evaluation metrics (scikit-learn definitions), metrics reports. Pure Swift.
        .target(name: "OnyxMetrics", dependencies: ["OnyxData"]),
        // Model evaluation: runs a model over a data set, maps outputs to predictions, metrics, HTML report.
        .target(name: "OnyxEval", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxKernels", "OnyxONNX", "OnyxMetrics", "OnyxData"]),
        // Model converters (Keras .keras / .h5 to ONNX): pure-Swift HDF5, zip and inflate readers.
        .target(name: "OnyxConvert", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxONNX"]),
        // Model compression: quantization, fp16, pruning, distillation.
        .target(name: "OnyxCompress", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxONNX", "OnyxKernels", "OnyxMetrics", "OnyxData"]),
        // Umbrella library.
        .target(name: "Onyx", dependencies: ["OnyxTensor", "OnyxEngine", "OnyxONNX", "OnyxMetrics", "OnyxData", "OnyxEval", "OnyxConvert", "OnyxCompress"]),
        // Model server: KServe v2 / Triton HTTP (Hummingbird) and gRPC (grpc-swift 2) APIs, model repository,
        // dynamic batching, metrics. The gRPC messages are generated from proto/triton/*.proto by scripts/gen-grpc.sh.
        .target(name: "OnyxServer", dependencies: [
            "Onyx",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "GRPCCore", package: "grpc-swift-2"),
            .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
            .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
        ]),
        // The CLI: argument parsing and printing only.
        .executableTarget(name: "onyx", dependencies: [
            "Onyx",
            "OnyxServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "OnyxTests", dependencies: ["Onyx", "OnyxServer"], resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
