import Foundation
import Logging
import Onyx
import Prometheus
import Synchronization

/// How the repository's contents change while serving (Triton's `--model-control-mode`).
public enum ModelControlMode: String, Sendable, CaseIterable {
    /// Load everything at start, never change.
    case none
    /// Load everything at start and rescan every poll interval.
    case poll
    /// Load nothing at start; clients load and unload through the repository API.
    case explicit
}

/// A directory of models: `ROOT/<model>/<version>/model.onnx` with an optional `ROOT/<model>/config.pbtxt` or
/// `config.json`. Lookups are lock-protected and cheap; loads swap whole model entries atomically, so a request
/// that already holds a `ModelVersion` always finishes on it.
final class ModelRepository: Sendable {
    enum VersionState: Sendable {
        case ready(ModelVersion)
        case unavailable(String)
    }

    struct Entry: Sendable {
        var versions: [Int: VersionState] = [:]
        /// A model-level failure (bad config, no versions).
        var error: String?
        var fingerprint = ""
        /// Version directories present when it was loaded.
        var seen: Set<Int> = []
    }

    let root: URL
    let rootPath: String
    let mode: ModelControlMode
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let threads: Int
    let state = Mutex<[String: Entry]>([:])
    /// Serialises loads, unloads and polls.
    let loadLock = NSLock()

    init(root: URL, mode: ModelControlMode, registry: PrometheusCollectorRegistry, logger: Logger, threads: Int) {
        self.root = root.standardizedFileURL.resolvingSymlinksInPath()
        self.rootPath = self.root.path
        self.mode = mode
        self.registry = registry
        self.logger = logger
        self.threads = threads
    }

    // MARK: Lookup

    /// The version a request addresses: the given one, or the highest ready version. An ensemble whose members
    /// are not all ready is unavailable, with the first missing member as the reason.
    func version(_ model: String, _ version: String?) throws -> ModelVersion {
        let mv = try lookup(model, version)
        if let e = mv.ensemble {
            do { try e.checkMembers(depth: 0) } catch let err as ServeError {
                throw ServeError(.unavailable, "model '\(model)' is not ready: \(err.message)")
            }
        }
        return mv
    }

    /// The loaded version a request addresses, without checking an ensemble's members.
    func lookup(_ model: String, _ version: String?) throws -> ModelVersion {
        let entry = state.withLock { $0[model] }
        guard let entry else { throw ServeError(.notFound, "unknown model '\(model)'") }
        if let version {
            guard let v = Int(version), v >= 0 else { throw ServeError(.notFound, "unknown version '\(version)' of model '\(model)'") }
            switch entry.versions[v] {
            case .ready(let mv)?: return mv
            case .unavailable(let reason)?: throw ServeError(.unavailable, "model '\(model)' version \(v) is not ready: \(reason)")
            case nil: throw ServeError(.notFound, "unknown version '\(version)' of model '\(model)'")
            }
        }
        for k in entry.versions.keys.sorted(by: >) {
            if case .ready(let mv)? = entry.versions[k] { return mv }
        }
        let reason = entry.error ?? entry.versions.sorted(by: { $0.key > $1.key }).compactMap { k, s -> String? in
            if case .unavailable(let r) = s { return "version \(k): \(r)" }
            return nil
        }.first ?? "no version is loaded"
        throw ServeError(.unavailable, "model '\(model)' is not ready: \(reason)")
    }

    /// Whether a model or version exists (404 otherwise) and is ready.
    func isReady(_ model: String, _ version: String?) throws -> Bool {
        do { _ = try self.version(model, version); return true } catch let e as ServeError where e.kind == .unavailable { return false }
    }

    var readyVersions: [ModelVersion] {
        state.withLock { s in
            s.keys.sorted().flatMap { k in
                (s[k]?.versions ?? [:]).sorted(by: { $0.key < $1.key }).compactMap { _, v -> ModelVersion? in
                    if case .ready(let mv) = v { return mv }
                    return nil
                }
            }
        }
    }

    /// The repository index: every model directory, with each known version's state.
    func index(readyOnly: Bool) -> JSON {
        let s = state.withLock { $0 }
        var names = Set(s.keys)
        for n in modelDirectories() { names.insert(n) }
        var out: [JSON] = []
        for n in names.sorted() {
            guard let e = s[n] else {
                if !readyOnly { out.append(.object([("name", .string(n)), ("state", .string("UNAVAILABLE")), ("reason", .string("unloaded"))])) }
                continue
            }
            if let err = e.error, e.versions.isEmpty {
                if !readyOnly { out.append(.object([("name", .string(n)), ("state", .string("UNAVAILABLE")), ("reason", .string(err))])) }
                continue
            }
            for (v, st) in e.versions.sorted(by: { $0.key < $1.key }) {
                switch st {
                case .ready(let mv):
                    var reason = ""
                    if let e = mv.ensemble {
                        do { try e.checkMembers(depth: 0) } catch { reason = "\(error)" }
                    }
                    if reason.isEmpty {
                        out.append(.object([("name", .string(n)), ("version", .string(String(v))), ("state", .string("READY")), ("reason", .string(""))]))
                    } else if !readyOnly {
                        out.append(.object([("name", .string(n)), ("version", .string(String(v))), ("state", .string("UNAVAILABLE")), ("reason", .string(reason))]))
                    }
                case .unavailable(let r):
                    if !readyOnly { out.append(.object([("name", .string(n)), ("version", .string(String(v))), ("state", .string("UNAVAILABLE")), ("reason", .string(r))])) }
                }
            }
        }
        return .array(out)
    }

    // MARK: Files

    func modelDirectories() -> [String] {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: rootPath)) ?? []
        return items.filter { n in
            var isDir: ObjCBool = false
            return !n.hasPrefix(".") && FileManager.default.fileExists(atPath: rootPath + "/" + n, isDirectory: &isDir) && isDir.boolValue
        }.sorted()
    }

    /// The model's directory, refusing names that could leave the repository.
    func modelDirectory(_ name: String) throws -> URL {
        guard !name.isEmpty, name.count <= 255, !name.hasPrefix("."), !name.contains("/"), !name.contains("\\"),
              !name.contains("\0") else {
            throw ServeError.bad("invalid model name '\(name)'")
        }
        let dir = root.appendingPathComponent(name).standardizedFileURL.resolvingSymlinksInPath()
        guard dir.path.hasPrefix(rootPath + "/") else { throw ServeError.bad("model '\(name)' resolves outside the model repository") }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ServeError(.notFound, "no model '\(name)' in the model repository")
        }
        return dir
    }

    /// Numeric version directories holding a model.onnx (any numeric directory for an ensemble).
    static func versionsOnDisk(_ dir: String, ensemble: Bool) -> [Int] {
        let items = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return items.compactMap { n -> Int? in
            guard !n.isEmpty, n.allSatisfy(\.isASCII), n.allSatisfy(\.isNumber), let v = Int(n), v >= 0 else { return nil }
            if ensemble {
                var isDir: ObjCBool = false
                return FileManager.default.fileExists(atPath: dir + "/\(n)", isDirectory: &isDir) && isDir.boolValue ? v : nil
            }
            return FileManager.default.fileExists(atPath: dir + "/\(n)/model.onnx") ? v : nil
        }
    }

    static func fileStamp(_ path: String) -> String? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path) else { return nil }
        let size = (a[.size] as? NSNumber)?.intValue ?? -1
        let mtime = (a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
        return "\(size)@\(mtime)"
    }

    // MARK: Loading

    /// Loads or reloads every model directory (modes none and poll); removes models whose directory is gone.
    func loadAll() {
        loadLock.lock()
        defer { loadLock.unlock() }
        let dirs = modelDirectories()
        for n in dirs { loadLocked(n) }
        let gone = state.withLock { Set($0.keys).subtracting(dirs) }
        for n in gone { unloadLocked(n) }
    }

    /// Loads a model (explicit mode). Throws 404 when there is no such directory.
    func load(_ name: String, configOverride: String? = nil) throws {
        loadLock.lock()
        defer { loadLock.unlock() }
        _ = try modelDirectory(name)
        loadLocked(name, configOverride: configOverride)
        loadMembersLocked(name, depth: 0)
        if let err = state.withLock({ $0[name]?.error }) { throw ServeError.bad("failed to load '\(name)': \(err)") }
        let ready = (try? isReady(name, nil)) ?? false
        if !ready { throw ServeError.bad("failed to load '\(name)': \((try? version(name, nil)).map { _ in "" } ?? reasonText(name))") }
    }

    /// Loading an ensemble also loads its members that are not loaded yet (as Triton does in explicit mode).
    func loadMembersLocked(_ name: String, depth: Int) {
        guard depth < EnsembleRunner.maxDepth else { return }
        let members = state.withLock { s -> [String] in
            var out: [String] = []
            for (_, v) in s[name]?.versions ?? [:] {
                if case .ready(let mv) = v, let e = mv.ensemble { out += e.config.steps.map(\.modelName) }
            }
            return out
        }
        for m in Set(members).sorted() where state.withLock({ $0[m] == nil }) {
            guard (try? modelDirectory(m)) != nil else { continue }
            loadLocked(m)
            loadMembersLocked(m, depth: depth + 1)
        }
    }

    func reasonText(_ name: String) -> String {
        do { _ = try version(name, nil); return "" } catch { return "\(error)" }
    }

    func unload(_ name: String) throws {
        loadLock.lock()
        defer { loadLock.unlock() }
        guard state.withLock({ $0[name] }) != nil else {
            _ = try modelDirectory(name)  // 404 for names that are not in the repository at all
            return
        }
        unloadLocked(name)
    }

    func unloadLocked(_ name: String) {
        let old = state.withLock { $0.removeValue(forKey: name) }
        for (_, v) in old?.versions ?? [:] { if case .ready(let mv) = v { mv.retire() } }
        logger.info("unloaded model", metadata: ["model": "\(name)"])
    }

    /// Stops every model's workers after their queues drain.
    func retireAll() {
        let all = state.withLock { s -> [Entry] in let v = Array(s.values); s.removeAll(); return v }
        for e in all { for (_, v) in e.versions { if case .ready(let mv) = v { mv.retire() } } }
    }

    func loadLocked(_ name: String, configOverride: String? = nil) {
        let previous = state.withLock { $0[name] }
        var entry = Entry()
        let dir: URL
        do { dir = try modelDirectory(name) } catch {
            entry.error = "\(error)"
            commit(name, entry, previous)
            return
        }
        // Config.
        var config = ModelConfig(name: name)
        var configText = ""
        do {
            if let configOverride {
                configText = configOverride
                config = try ModelConfig.parse(configOverride, json: true, defaultName: name)
            } else if let t = try? String(contentsOf: dir.appendingPathComponent("config.pbtxt"), encoding: .utf8) {
                configText = t
                config = try ModelConfig.parse(t, json: false, defaultName: name)
            } else if let t = try? String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8) {
                configText = t
                config = try ModelConfig.parse(t, json: true, defaultName: name)
            }
            config.name = name
            for i in config.outputs.indices {
                guard let lf = config.outputs[i].labelFilename else { continue }
                guard let text = try? String(contentsOf: dir.appendingPathComponent(lf), encoding: .utf8) else {
                    throw ServeError.bad("output '\(config.outputs[i].name)': label_filename '\(lf)' cannot be read in \(dir.path)")
                }
                var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
                    String($0.hasSuffix("\r") ? $0.dropLast() : $0)
                }
                if lines.last == "" { lines.removeLast() }
                config.outputs[i].labels = lines
                configText += "\n" + text
            }
        } catch {
            entry.error = "\(error)"
            entry.fingerprint = "config:" + configText
            commit(name, entry, previous)
            return
        }
        // Versions present on disk.
        let onDisk = Self.versionsOnDisk(dir.path, ensemble: config.ensemble != nil).sorted(by: >)
        var candidates: [Int]
        var wanted = Int.max
        switch config.versionPolicy {
        case .all: candidates = onDisk
        case .latest(let n): candidates = onDisk; wanted = n
        case .specific(let vs):
            candidates = vs.sorted(by: >)
            for v in vs where !onDisk.contains(v) { entry.versions[v] = .unavailable("version \(v) has no \(v)/model.onnx in the repository") }
            candidates = candidates.filter { onDisk.contains($0) }
        }
        if onDisk.isEmpty {
            entry.error = config.ensemble != nil ? "no version directory in ensemble '\(name)'" : "no version directory with a model.onnx in '\(name)'"
        }
        var ensembleConfig: ModelConfig? = nil
        if config.ensemble != nil {
            do { ensembleConfig = try config.completedEnsemble() } catch {
                entry.error = "\(error)"
                entry.fingerprint = "config:" + configText
                commit(name, entry, previous)
                return
            }
        }
        entry.seen = Set(onDisk)
        var fp = "config:" + configText
        var ready = 0
        for v in candidates {
            guard ready < wanted else { break }
            let path = dir.path + "/\(v)/model.onnx"
            let stamp = (PipelineFront.stamp(modelPath: path) ?? "?") + "|" + configText
            fp += "|\(v):\(stamp)"
            if case .ready(let mv)? = previous?.versions[v], mv.fingerprint == stamp {
                entry.versions[v] = .ready(mv)
                ready += 1
                continue
            }
            if let ec = ensembleConfig, let e = ec.ensemble {
                let stats = ModelStats(name: name, version: v, registry: registry)
                let runner = EnsembleRunner(name: name, config: e, repository: self)
                entry.versions[v] = .ready(ModelVersion(name: name, version: v, config: ec, ensemble: runner, stats: stats, fingerprint: stamp))
                ready += 1
                logger.info("loaded ensemble", metadata: ["model": "\(name)", "version": "\(v)", "steps": "\(e.steps.map(\.modelName))"])
                continue
            }
            do {
                let model = try PipelineFront.load(modelPath: path)  // with pipeline.yaml|json in front, if present
                let session = try InferenceSession(model: model, options: SessionOptions(threads: threads))
                let full = try config.completed(for: session)
                let stats = ModelStats(name: name, version: v, registry: registry)
                entry.versions[v] = .ready(ModelVersion(name: name, version: v, config: full, session: session, stats: stats, fingerprint: stamp))
                ready += 1
                logger.info("loaded model", metadata: ["model": "\(name)", "version": "\(v)"])
            } catch {
                entry.versions[v] = .unavailable("\(error)")
                logger.error("failed to load model", metadata: ["model": "\(name)", "version": "\(v)", "reason": "\(error)"])
            }
        }
        entry.fingerprint = fp
        commit(name, entry, previous)
    }

    /// Publishes a new entry and retires the versions it replaced (their queued requests still complete).
    func commit(_ name: String, _ entry: Entry, _ previous: Entry?) {
        state.withLock { $0[name] = entry }
        for (v, s) in previous?.versions ?? [:] {
            guard case .ready(let old) = s else { continue }
            if case .ready(let new)? = entry.versions[v], new === old { continue }
            old.retire()
        }
    }

    /// One poll: reloads models whose files changed, loads new ones and drops removed ones.
    func poll() {
        loadLock.lock()
        defer { loadLock.unlock() }
        let dirs = modelDirectories()
        for n in dirs where changed(n) { loadLocked(n) }
        let gone = state.withLock { Set($0.keys).subtracting(dirs) }
        for n in gone { unloadLocked(n) }
    }

    /// Whether the model's config or version files differ from what is loaded.
    func changed(_ name: String) -> Bool {
        guard let e = state.withLock({ $0[name] }) else { return true }
        guard let dir = try? modelDirectory(name) else { return true }
        let cfg = (try? String(contentsOf: dir.appendingPathComponent("config.pbtxt"), encoding: .utf8))
            ?? (try? String(contentsOf: dir.appendingPathComponent("config.json"), encoding: .utf8)) ?? ""
        guard e.fingerprint.hasPrefix("config:" + cfg) else { return true }
        let isEnsemble = (try? ModelConfig.parse(cfg, json: !cfg.isEmpty && cfg.first == "{", defaultName: name))?.ensemble != nil
        let onDisk = Set(Self.versionsOnDisk(dir.path, ensemble: isEnsemble))
        if onDisk != e.seen { return true }
        let known = Set(e.versions.keys)
        for v in known {
            guard case .ready(let mv)? = e.versions[v] else { continue }
            if !onDisk.contains(v) { return true }
            let stamp = (PipelineFront.stamp(modelPath: dir.path + "/\(v)/model.onnx") ?? "?") + "|" + cfg
            if stamp != mv.fingerprint { return true }
        }
        // Versions that failed to load are retried when their file changes.
        for v in known {
            guard case .unavailable? = e.versions[v] else { continue }
            let stamp = (PipelineFront.stamp(modelPath: dir.path + "/\(v)/model.onnx") ?? "?") + "|" + cfg
            if !e.fingerprint.contains("|\(v):\(stamp)") { return true }
        }
        return false
    }
}
