import ArgumentParser
import Foundation
import Onyx
import OnyxServer

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve models over the KServe v2 / Triton HTTP and gRPC protocols.",
        discussion: """
        The repository holds DIR/<model>/<version>/model.onnx with an optional DIR/<model>/config.pbtxt or config.json.
        Without --model-repository the bundled Examples/models (relative to the current directory) are served.
        Example: onyx serve --model-repository models --http-port 8000 --grpc-port 8001
        """)

    @Option(name: .customLong("model-repository"), help: "Model repository directory.") var modelRepository: String?
    @Option(name: .customLong("http-port"), help: "HTTP port (0 picks a free one).") var httpPort: Int = 8000
    @Option(name: .customLong("grpc-port"), help: "gRPC port (0 picks a free one, 'off' disables gRPC).") var grpcPort: String = "8001"
    @Option(help: "Address to bind.") var host: String = "127.0.0.1"
    @Option(name: .customLong("model-control-mode"), help: "none, poll or explicit.") var modelControlMode: String = "none"
    @Option(name: .customLong("repository-poll-secs"), help: "Poll interval in seconds (poll mode).") var repositoryPollSecs: Int = 15
    @Option(name: .customLong("max-request-bytes"), help: "Largest accepted request body.") var maxRequestBytes: Int = 64 << 20
    @Option(name: .customLong("auth-token-file"), help: "File holding a bearer token required on all but health endpoints.") var authTokenFile: String?
    @Option(help: "Intra-op threads per model execution.") var threads: Int = ThreadPool.availableCores

    func run() throws {
        let repo: String
        if let modelRepository {
            repo = modelRepository
        } else {
            guard FileManager.default.fileExists(atPath: "Examples/models") else {
                fail("no --model-repository given and no Examples/models in the current directory; run from the Onyx checkout or pass --model-repository DIR")
            }
            repo = "Examples/models"
        }
        guard let mode = ModelControlMode(rawValue: modelControlMode) else { fail("--model-control-mode must be none, poll or explicit") }
        guard (0...65535).contains(httpPort) else { fail("--http-port must be between 0 and 65535") }
        let grpc: Int?
        if grpcPort == "off" || grpcPort == "-1" {
            grpc = nil
        } else {
            guard let g = Int(grpcPort), (0...65535).contains(g) else { fail("--grpc-port must be between 0 and 65535, or 'off'") }
            grpc = g
        }
        guard repositoryPollSecs >= 1 else { fail("--repository-poll-secs must be at least 1") }
        guard maxRequestBytes >= 1 else { fail("--max-request-bytes must be positive") }
        var options = ServeOptions(repository: repo)
        options.host = host
        options.httpPort = httpPort
        options.grpcPort = grpc
        options.controlMode = mode
        options.pollSeconds = repositoryPollSecs
        options.maxRequestBytes = maxRequestBytes
        options.threads = max(threads, 1)
        if let authTokenFile {
            let token = guarded { try String(contentsOfFile: authTokenFile, encoding: .utf8) }.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !token.isEmpty else { fail("--auth-token-file '\(authTokenFile)' is empty") }
            options.authToken = token
        }
        let server = guarded { try InferenceServer(options: options) }
        // The root command is synchronous: run the server on the concurrency runtime and wait for it here.
        let host = self.host
        let done = DispatchSemaphore(value: 0)
        let failure = ErrorBox()
        Task {
            do {
                try await server.run { http, grpc in
                    let line = "onyx serve: HTTP on \(host):\(http)\(grpc.map { ", gRPC on \(host):\($0)" } ?? ""), repository \(repo)\n"
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
            } catch {
                failure.set("\(error)")
            }
            done.signal()
        }
        done.wait()
        if let message = failure.get() { fail(message) }
    }
}

/// Carries the server's failure message from its task to the waiting main thread.
final class ErrorBox: @unchecked Sendable {
    // Safety: written once by the server task before it signals, read by the main thread after waiting.
    private var message: String?
    private let lock = NSLock()
    func set(_ m: String) { lock.lock(); message = m; lock.unlock() }
    func get() -> String? { lock.lock(); defer { lock.unlock() }; return message }
}
