import OnyxTensor

/// Builds a kernel for a node; throws `KernelError` for bad attributes.
public typealias KernelFactory = @Sendable (NodeContext) throws -> Kernel

/// The operator table: (domain, op type) → implementations by the opset version they start at.
public struct OperatorTable: Sendable {
    struct Key: Hashable { var domain: String; var opType: String }
    var entries: [Key: [(since: Int, factory: KernelFactory)]] = [:]

    public init() {}

    /// Registers `factory` for `opType` in `domain` from opset `since` until the next registration's `since`.
    public mutating func add(_ opType: String, domain: String = "", since: Int = 1, _ factory: @escaping KernelFactory) {
        let key = Key(domain: OperatorTable.normalize(domain), opType: opType)
        var list = entries[key, default: []]
        list.append((since, factory))
        list.sort { $0.since > $1.since }
        entries[key] = list
    }

    /// The implementation for a model whose opset for the domain is `opset`.
    public func resolve(domain: String, opType: String, opset: Int) -> KernelFactory? {
        guard let list = entries[Key(domain: OperatorTable.normalize(domain), opType: opType)] else { return nil }
        return list.first(where: { $0.since <= opset })?.factory
    }

    /// Every registered (domain, op type).
    public var operators: [(domain: String, opType: String)] {
        entries.keys.map { ($0.domain, $0.opType) }.sorted { ($0.domain, $0.opType) < ($1.domain, $1.opType) }
    }

    static func normalize(_ d: String) -> String { d == "ai.onnx" ? "" : d }

    /// All operators Onyx implements.
    public static let standard: OperatorTable = {
        var t = OperatorTable()
        for register in operatorFamilies { register(&t) }
        return t
    }()
}
