// Pipeline files and `prepare` configs as JSON or YAML, chosen by the file's extension (.yaml / .yml → YAML,
// anything else → JSON). Both formats decode into the same Codable types, so they have the same semantics.
import Foundation
import Yams

/// The two text formats of pipeline and config files.
public enum DocumentFormat: Sendable, Equatable {
    case json, yaml

    /// `.yaml` / `.yml` → YAML, anything else → JSON.
    public init(path: String) {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        self = (ext == "yaml" || ext == "yml") ? .yaml : .json
    }

    /// Decodes `T` from `data`; errors are one line naming `file` and, for YAML syntax errors, line and column.
    public func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String, what: String) throws -> T {
        switch self {
        case .json:
            let d = JSONDecoder()
            d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            do { return try d.decode(T.self, from: data) } catch let e as DecodingError {
                throw DataError(file: file, "invalid \(what): \(Self.describe(e))")
            } catch {
                throw DataError(file: file, "invalid \(what): not valid JSON (\(error.localizedDescription))")
            }
        case .yaml:
            guard let text = String(data: data, encoding: .utf8) else { throw DataError(file: file, "invalid \(what): not UTF-8") }
            do { return try YAMLDecoder().decode(T.self, from: text) } catch let e as YamlError {
                throw Self.describe(e, file: file, what: what)
            } catch DecodingError.dataCorrupted(let c) where c.underlyingError is YamlError {
                // YAMLDecoder wraps syntax errors; their position is in the YamlError.
                if let y = c.underlyingError as? YamlError { throw Self.describe(y, file: file, what: what) }
                throw DataError(file: file, "invalid \(what): \(c.debugDescription)")
            } catch let e as DecodingError {
                throw DataError(file: file, "invalid \(what): \(Self.describe(e))")
            } catch {
                throw DataError(file: file, "invalid \(what): \(error)")
            }
        }
    }

    /// Encodes `value` (JSON: pretty, sorted keys, NaN/inf as strings; YAML: block style, sorted keys).
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        switch self {
        case .json:
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
            return try e.encode(value)
        case .yaml:
            // Yams writes doubles with 15 significant digits; going through the JSON form and writing each number
            // in Swift's shortest round-trip form keeps YAML files exactly as precise as JSON ones.
            let tree = try JSONSerialization.jsonObject(with: try DocumentFormat.json.encode(value), options: [.fragmentsAllowed])
            return Data(try Yams.serialize(node: Self.node(tree)).utf8)
        }
    }

    /// A YAML node for a JSONSerialization tree: mappings with sorted keys, numbers in shortest round-trip form
    /// (integers without a fraction), strings quoted where a plain scalar would read as another type.
    static func node(_ v: Any) throws -> Node {
        switch v {
        case let d as [String: Any]:
            return Node(try d.keys.sorted().map { (Node($0), try node(d[$0] ?? NSNull())) }, Tag(.map))
        case let a as [Any]:
            return Node(try a.map(node), Tag(.seq))
        case let s as String:
            return .scalar(s.represented())
        case let n as NSNumber:
            // Linux Foundation may hold a parsed JSON number as a decimal whose doubleValue is not correctly
            // rounded; its text is the exact JSON text, which Double(String) parses exactly.
            let d = Double(n.stringValue) ?? n.doubleValue
            if d == d.rounded(), abs(d) < 1e15 { return Node(String(Int64(d)), Tag(.int)) }
            return Node("\(d)", Tag(.float))
        case is NSNull:
            return Node("null", Tag(.null))
        default:
            throw DataError(file: "yaml", "cannot write \(type(of: v)) as YAML")
        }
    }

    /// "steps[2].method: expected String" style text for a decoding error.
    static func describe(_ e: DecodingError) -> String {
        func path(_ c: [CodingKey]) -> String {
            var s = ""
            for k in c {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s.isEmpty ? "top level" : s
        }
        switch e {
        case .keyNotFound(let k, let c): return "\(path(c.codingPath + [k])): missing"
        case .typeMismatch(_, let c), .valueNotFound(_, let c), .dataCorrupted(let c):
            return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    static func describe(_ e: YamlError, file: String, what: String) -> DataError {
        func context(_ c: YamlError.Context?) -> String { c.map { " (\($0.text))" } ?? "" }
        switch e {
        case .scanner(let c, let problem, let mark, _), .parser(let c, let problem, let mark, _),
             .composer(let c, let problem, let mark, _):
            return DataError(file: file, line: mark.line, column: mark.column, "invalid YAML \(what): \(problem)\(context(c))")
        case .duplicatedKeysInMapping(let dups, let c):
            return DataError(file: file, line: c.mark.line, column: c.mark.column,
                             "invalid YAML \(what): duplicated keys \(dups.joined(separator: ", "))")
        case .reader(let problem, _, _, _):
            return DataError(file: file, "invalid YAML \(what): \(problem)")
        default:
            return DataError(file: file, "invalid YAML \(what): \(e)")
        }
    }
}
