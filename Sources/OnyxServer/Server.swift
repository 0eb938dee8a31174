import Foundation
import Hummingbird
import Logging
import NIOCore
import Onyx
import Prometheus
import ServiceLifecycle
@_exported import UnixSignals
import Synchronization

/// Everything `onyx serve` is configured with.
public struct ServeOptions: Sendable {
    public var repository: String
    public var host: String = "127.0.0.1"
    /// 0 picks a free port.
    public var httpPort: Int = 8000
    /// nil disables gRPC; 0 picks a free port.
    public var grpcPort: Int? = 8001
    public var controlMode: ModelControlMode = .none
    public var pollSeconds: Int = 15
    public var maxRequestBytes: Int = 64 << 20
    /// Bearer token required on every endpoint but health.
    public var authToken: String?
    /// Intra-op threads per model execution.
    public var threads: Int = ThreadPool.availableCores

    public init(repository: String) { self.repository = repository }
}

/// State shared by the HTTP and gRPC front ends.
final class ServerCore: Sendable {
    let options: ServeOptions
    let repository: ModelRepository
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let ready = Atomic<Bool>(false)

    init(options: ServeOptions, logger: Logger) {
        self.options = options
        self.logger = logger
        self.registry = PrometheusCollectorRegistry()
        self.repository = ModelRepository(root: URL(fileURLWithPath: options.repository), mode: options.controlMode,
                                          registry: registry, logger: logger, threads: options.threads)
    }

    var isReady: Bool { ready.load(ordering: .acquiring) }

    static let extensions = ["model_repository", "model_configuration", "schedule_policy", "binary_tensor_data", "classification", "parameters", "statistics"]

    var serverMetadata: JSON {
        .object([("name", .string("onyx")), ("version", .string(InferenceServer.version)),
                 ("extensions", .array(Self.extensions.map { .string($0) }))])
    }

    func metadata(_ model: String, _ version: String?) throws -> JSON {
        let mv = try repository.version(model, version)
        guard version == nil, case .object(var kv) = mv.metadataJSON else { return mv.metadataJSON }
        // Without a version: list every ready version.
        let versions = repository.readyVersions.filter { $0.name == model }.map { JSON.string(String($0.version)) }
        if let i = kv.firstIndex(where: { $0.0 == "versions" }) { kv[i].1 = .array(versions) }
        return .object(kv)
    }

    func stats(_ model: String, _ version: String?) throws -> [JSON] {
        if let version { return [try repository.version(model, version).stats.json] }
        _ = try? repository.version(model, nil)
        let vs = repository.readyVersions.filter { $0.name == model }
        if vs.isEmpty { _ = try repository.version(model, nil) }
        return vs.map(\.stats.json)
    }

    /// Runs blocking work (model loading) off the caller's task.
    func runBlocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { c in
            Thread.detachNewThread { c.resume(with: Result { try body() }) }
        }
    }
}

/// Rescans the repository every poll interval (model-control-mode poll).
struct PollService: Service {
    let core: ServerCore
    func run() async throws {
        let secs = max(core.options.pollSeconds, 1)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await cancelOnGracefulShutdown { try await Task.sleep(for: .seconds(secs)) } } catch { return }
            try? await core.runBlocking { core.repository.poll() }
        }
    }
}

/// `onyx serve`: the model server.
public final class InferenceServer: Sendable {
    public static let version = "0.1.0"
    let core: ServerCore
    let logger: Logger

    public init(options: ServeOptions, logger: Logger? = nil) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: options.repository, isDirectory: &isDir), isDir.boolValue else {
            throw ServeError.bad("model repository '\(options.repository)' is not a directory")
        }
        guard options.maxRequestBytes > 0 else { throw ServeError.bad("--max-request-bytes must be positive") }
        let log = logger ?? Logger(label: "onyx.serve")
        self.logger = log
        self.core = ServerCore(options: options, logger: log)
    }

    /// Loads the repository, then serves until SIGINT/SIGTERM (or cancellation), draining in-flight requests.
    /// `onListening` receives the bound HTTP and gRPC ports.
    public func run(gracefulShutdownSignals: [UnixSignal] = [.sigterm, .sigint],
                    onListening: @escaping @Sendable (_ httpPort: Int, _ grpcPort: Int?) -> Void = { _, _ in }) async throws {
        let core = self.core
        if core.options.controlMode != .explicit {
            try await core.runBlocking { core.repository.loadAll() }
        }
        var services: [any Service] = []
        if core.options.controlMode == .poll { services.append(PollService(core: core)) }
        let grpc: GRPCFrontEnd? = core.options.grpcPort.map { GRPCFrontEnd(core: core, port: $0) }
        if let grpc { services.append(grpc) }
        let app = Application(
            responder: V2Responder(core: core),
            configuration: .init(address: .hostname(core.options.host, port: core.options.httpPort), serverName: "onyx"),
            services: services,
            onServerRunning: { channel in
                let httpPort = channel.localAddress?.port ?? core.options.httpPort
                let grpcPort = await grpc?.boundPort()
                core.ready.store(true, ordering: .releasing)
                core.logger.info("serving", metadata: ["http": "\(core.options.host):\(httpPort)", "grpc": "\(grpcPort.map(String.init) ?? "off")",
                                                      "repository": "\(core.options.repository)"])
                onListening(httpPort, grpcPort)
            },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: gracefulShutdownSignals, logger: logger))
        defer {
            core.ready.store(false, ordering: .releasing)
            core.repository.retireAll()
        }
        try await group.run()
    }
}
