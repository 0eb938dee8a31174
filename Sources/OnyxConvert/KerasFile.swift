import Foundation
import OnyxTensor

/// The weights of one Keras layer: its own variables in creation order plus nested objects (an RNN's `cell`,
/// a Bidirectional layer's `forward_layer` / `backward_layer`, a nested model's `layers`).
public final class KerasWeights {
    public var vars: [Tensor]
    public var children: [(name: String, node: KerasWeights)]
    /// The Keras layer name this node belongs to (the `name` attribute of a `.keras` archive's `vars` group).
    public var layerName: String?
    /// Legacy `.h5` files: variables grouped by the path component before the variable's own name
    /// (`inner_model/dense_4/kernel` → `dense_4`), in file order; how inner layers of nested models and of
    /// wrappers (TimeDistributed, MultiHeadAttention's query/key/value/attention_output) are found.
    public var named: [(layer: String, tensor: Tensor)] = []
    init(vars: [Tensor] = [], children: [(name: String, node: KerasWeights)] = [], layerName: String? = nil) {
        self.vars = vars; self.children = children; self.layerName = layerName
    }

    public func child(_ name: String) -> KerasWeights? { children.first { $0.name == name }?.node }

    /// The weights of the inner layer called `layer` (nested models, wrappers, sub-layers): the shallowest
    /// descendant with that layer name in an archive, or the variables grouped under that name in a legacy file.
    public func sub(_ layer: String) -> KerasWeights? {
        var queue = children.map(\.node)
        var i = 0
        while i < queue.count {
            if queue[i].layerName == layer { return queue[i] }
            queue += queue[i].children.map(\.node)
            i += 1
        }
        let v = named.filter { $0.layer == layer }.map(\.tensor)
        return v.isEmpty ? nil : KerasWeights(vars: v, layerName: layer)
    }

    /// All variables in Keras's `layer.weights` order (own variables, then forward before backward, then the rest).
    public var all: [Tensor] {
        let rank = { (n: String) -> Int in n == "forward_layer" ? 0 : n == "backward_layer" ? 1 : 2 }
        let kids = children.enumerated().sorted { (rank($0.element.name), $0.offset) < (rank($1.element.name), $1.offset) }
        return vars + kids.flatMap { $0.element.node.all }
    }
}

/// A Keras model file read into its configuration and per-layer weights.
public struct KerasFile {
    /// The model's serialized config: `{"class_name": ..., "config": {...}}`.
    public var config: [String: Any]
    /// Weights by layer name (for nested models, the nested model's name holds a tree keyed by inner layer names).
    public var weights: [String: KerasWeights]
    /// "keras" (Keras 3 archive) or "h5" (legacy full-model HDF5).
    public var format: String

    public init(config: [String: Any], weights: [String: KerasWeights] = [:], format: String = "keras") {
        self.config = config; self.weights = weights; self.format = format
    }

    public static func load(path: String) throws -> KerasFile {
        guard FileManager.default.fileExists(atPath: path) else { throw ConvertError("file '\(path)' does not exist") }
        guard let data = FileManager.default.contents(atPath: path) else { throw ConvertError("cannot read '\(path)'") }
        return try load(bytes: [UInt8](data), name: path)
    }

    public static func load(bytes: [UInt8], name: String = "model") throws -> KerasFile {
        if bytes.starts(with: [0x50, 0x4B]) { return try loadArchive(bytes) }
        if bytes.starts(with: [0x89, 0x48, 0x44, 0x46]) { return try loadLegacyH5(bytes) }
        throw ConvertError("'\(name)' is neither a .keras archive (zip) nor a Keras .h5 file (HDF5)")
    }

    static func json(_ bytes: [UInt8], what: String) throws -> [String: Any] {
        let obj: Any
        do { obj = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) } catch {
            throw ConvertError("\(what) is not valid JSON (\(error.localizedDescription))")
        }
        guard let d = obj as? [String: Any] else { throw ConvertError("\(what) is not a JSON object") }
        return d
    }

    static func loadArchive(_ bytes: [UInt8]) throws -> KerasFile {
        let zip: ZipArchive
        do { zip = try ZipArchive(bytes: bytes) } catch let e as ZipError { throw ConvertError(e.description) }
        func read(_ name: String) throws -> [UInt8] {
            do { return try zip.read(name) } catch let e as ZipError { throw ConvertError(e.description) }
        }
        guard zip.contains("config.json") else { throw ConvertError("the archive has no config.json: not a .keras model") }
        let config = try json(try read("config.json"), what: "config.json")
        var weights: [String: KerasWeights] = [:]
        if zip.contains("model.weights.h5") {
            let h5 = try HDF5File(bytes: try read("model.weights.h5"))
            weights = try archiveLayers(h5, group: try h5.address(of: "layers"))
        } else if zip.contains("model.weights.npz") {
            throw ConvertError("model.weights.npz archives are not supported (only model.weights.h5)")
        }
        return KerasFile(config: config, weights: weights, format: "keras")
    }

    /// Layer groups under `layers/`, keyed by the layer's real name (the `name` attribute of its `vars` group),
    /// and also by the group's own name (Keras's snake_case class name with a counter) as a fallback.
    static func archiveLayers(_ h5: HDF5File, group: Int) throws -> [String: KerasWeights] {
        var out: [String: KerasWeights] = [:]
        for (key, addr) in try h5.children(group) {
            let node = try weightTree(h5, addr, depth: 0)
            out["#" + key] = node
            if let v = try h5.children(addr).first(where: { $0.name == "vars" }),
               let n = try h5.attributes(v.address)["name"]?.string {
                out[n] = node
            }
        }
        return out
    }

    static func weightTree(_ h5: HDF5File, _ addr: Int, depth: Int) throws -> KerasWeights {
        guard depth < 32 else { throw ConvertError("weights nest too deeply") }
        let node = KerasWeights()
        for (name, a) in try h5.children(addr) {
            if name == "vars" {
                node.layerName = try h5.attributes(a)["name"]?.string
                let vars = try h5.children(a)
                let sorted = vars.sorted { (Int($0.name) ?? Int.max, $0.name) < (Int($1.name) ?? Int.max, $1.name) }
                node.vars = try sorted.map { try h5.readFloats($0.address) }
            } else if !(try h5.isDataset(a)) {
                node.children.append((name, try weightTree(h5, a, depth: depth + 1)))
            }
        }
        return node
    }

    static func loadLegacyH5(_ bytes: [UInt8]) throws -> KerasFile {
        let h5 = try HDF5File(bytes: bytes)
        let rootAttrs = try h5.attributes(h5.rootAddress)
        guard let cfg = rootAttrs["model_config"]?.string else {
            throw ConvertError("the HDF5 file has no 'model_config' attribute: a weights-only file, not a full Keras model")
        }
        let config = try json(Array(cfg.utf8), what: "model_config")
        let mw = try h5.address(of: "model_weights")
        let attrs = try h5.attributes(mw)
        guard let names = attrs["layer_names"]?.stringList else {
            throw ConvertError("model_weights has no 'layer_names' attribute")
        }
        var weights: [String: KerasWeights] = [:]
        let groups = try h5.children(mw)
        for name in names {
            guard let g = groups.first(where: { $0.name == name }) else { continue }
            let wn = try h5.attributes(g.address)["weight_names"]?.stringList ?? []
            var vars: [Tensor] = []
            var named: [(layer: String, tensor: Tensor)] = []
            for w in wn {
                // Names are paths relative to the layer group; older files repeat the layer name as the first part.
                var a: Int?
                var p = g.address
                var ok = true
                for part in w.split(separator: "/") {
                    guard let c = try h5.children(p).first(where: { $0.name == part }) else { ok = false; break }
                    p = c.address
                }
                if ok { a = p }
                guard let addr = a else { throw ConvertError("weight '\(w)' of layer '\(name)' is missing from the file") }
                vars.append(try h5.readFloats(addr))
                let parts = w.split(separator: "/")
                if parts.count >= 2 { named.append((String(parts[parts.count - 2]), vars[vars.count - 1])) }
            }
            let node = KerasWeights(vars: vars, layerName: name)
            node.named = named
            weights[name] = node
        }
        return KerasFile(config: config, weights: weights, format: "h5")
    }
}
