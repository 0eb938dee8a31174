import ServiceLifecycle

/// Placeholder until the gRPC front end lands.
struct GRPCFrontEnd: Service {
    let core: ServerCore
    let port: Int
    func boundPort() async -> Int? { nil }
    func run() async throws { try? await gracefulShutdown() }
}
