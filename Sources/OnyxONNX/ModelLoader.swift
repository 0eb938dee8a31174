import Foundation
import OnyxTensor
import OnyxEngine
import OnyxProto
import SwiftProtobuf

/// Reads ONNX model files into the engine's IR and writes them back.
public enum ONNXModel {
    /// Loads a model file; external data is resolved relative to its directory.
    public static func load(path: String) throws -> Model {
        let url = URL(fileURLWithPath: path)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw OnyxError.invalidModel("file '\(path)' does not exist")
        }
        let file = try MappedFile(url: url)
        // Large initializer raw_data is copied straight from the mapping (see RawDataSplitter), not parsed.
        let bytes = UnsafeRawBufferPointer(start: file.size > 0 ? file.pointer : nil, count: file.size)
        if let (message, raw) = RawDataSplitter(bytes: bytes).split(), raw.contains(where: { $0 != nil }) {
            return try withExtendedLifetime(file) {
                try load(data: message, baseDirectory: url.deletingLastPathComponent(), raw: (file, raw))
            }
        }
        return try withExtendedLifetime(file) {
            let data = file.size > 0 ? Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: file.pointer), count: file.size, deallocator: .none) : Data()
            return try load(data: data, baseDirectory: url.deletingLastPathComponent())
        }
    }

    /// Loads a model from bytes. Without `baseDirectory`, external data cannot be resolved.
    public static func load(data: Data, baseDirectory: URL? = nil) throws -> Model {
        try load(data: data, baseDirectory: baseDirectory, raw: nil)
    }

    static func load(data: Data, baseDirectory: URL?, raw: (file: MappedFile, ranges: [RawDataSplitter.Range?])?) throws -> Model {
        let proto: Onnx_ModelProto
        do {
            var opts = BinaryDecodingOptions()
            opts.messageDepthLimit = 200
            proto = try Onnx_ModelProto(serializedBytes: data, options: opts)
        } catch {
            throw OnyxError.invalidModel("protobuf parse failed (\(error))")
        }
        guard proto.hasGraph else { throw OnyxError.invalidModel("the file has no graph") }
        guard proto.irVersion > 0 else { throw OnyxError.invalidModel("ir_version is missing") }
        return try ModelImporter(baseDirectory: baseDirectory, raw: raw).model(proto)
    }

    /// Serializes a model (tensors inline, raw_data).
    public static func serialize(_ m: Model) throws -> Data {
        try ModelExporter().model(m).serializedData()
    }

    /// Saves a model atomically (temporary name, then rename).
    public static func save(_ m: Model, to path: String) throws {
        try serialize(m).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

struct ModelImporter {
    let baseDirectory: URL?
    /// The main graph's initializer raw_data left out of the parsed message, by initializer index.
    var raw: (file: MappedFile, ranges: [RawDataSplitter.Range?])? = nil

    func model(_ p: Onnx_ModelProto) throws -> Model {
        var opsets: [String: Int] = [:]
        for o in p.opsetImport { opsets[o.domain == "ai.onnx" ? "" : o.domain] = Int(o.version) }
        if opsets[""] == nil && p.opsetImport.isEmpty { opsets[""] = 1 }
        let g = try graph(p.graph, raw: raw)
        var funcs: [FunctionDef] = []
        for f in p.functions {
            var defaults: [String: Attribute] = [:]
            for a in f.attributeProto { defaults[a.name] = try attribute(a) }
            var fo: [String: Int] = [:]
            for o in f.opsetImport { fo[o.domain] = Int(o.version) }
            funcs.append(FunctionDef(name: f.name, domain: f.domain, inputs: f.input, outputs: f.output,
                                     attributeNames: f.attribute + f.attributeProto.map(\.name),
                                     attributeDefaults: defaults, nodes: try f.node.map(node), opsets: fo))
        }
        return Model(irVersion: Int(p.irVersion), opsets: opsets, producerName: p.producerName,
                     producerVersion: p.producerVersion, domain: p.domain, modelVersion: Int(p.modelVersion),
                     docString: p.docString, metadata: p.metadataProps.map { ($0.key, $0.value) },
                     graph: g, functions: funcs)
    }

    func graph(_ p: Onnx_GraphProto) throws -> Graph { try graph(p, raw: nil) }

    func graph(_ p: Onnx_GraphProto, raw: (file: MappedFile, ranges: [RawDataSplitter.Range?])?) throws -> Graph {
        var inits: [(name: String, tensor: Tensor)] = []
        if let raw, raw.ranges.count != p.initializer.count {
            throw OnyxError.invalidModel("initializer raw_data index: \(raw.ranges.count) ranges for \(p.initializer.count) initializers")
        }
        for (i, t) in p.initializer.enumerated() {
            do {
                if let raw, let r = raw.ranges[i] {
                    let bytes = UnsafeRawBufferPointer(start: raw.file.pointer + r.offset, count: r.count)
                    inits.append((t.name, try TensorProtoCodec.decode(t, baseDirectory: baseDirectory, rawData: bytes)))
                    raw.file.dropPages(offset: r.offset, count: r.count)
                } else {
                    inits.append((t.name, try TensorProtoCodec.decode(t, baseDirectory: baseDirectory)))
                }
            } catch let e as OnyxError {
                if case .invalidModel(let m) = e { throw OnyxError.invalidGraph("initializer: \(m)") }
                throw e
            }
        }
        for s in p.sparseInitializer {
            inits.append((s.values.name, try sparse(s)))
        }
        return Graph(name: p.name, nodes: try p.node.map(node), inputs: try p.input.map(valueInfo),
                     outputs: try p.output.map(valueInfo), initializers: inits,
                     valueInfo: try p.valueInfo.map(valueInfo), docString: p.docString)
    }

    func node(_ p: Onnx_NodeProto) throws -> Node {
        var attrs: [String: Attribute] = [:]
        for a in p.attribute {
            let label = "node '\(p.name)' (\(p.opType))"
            do { attrs[a.name] = try attribute(a) } catch {
                throw OnyxError.invalidGraph("\(label): attribute '\(a.name)': \(error)")
            }
        }
        return Node(name: p.name, opType: p.opType, domain: p.domain == "ai.onnx" ? "" : p.domain,
                    inputs: p.input, outputs: p.output, attributes: attrs, docString: p.docString)
    }

    func attribute(_ a: Onnx_AttributeProto) throws -> Attribute {
        if !a.refAttrName.isEmpty { return .ref(a.refAttrName) }
        let s = { (d: Data) in String(decoding: d, as: UTF8.self) }
        switch a.type {
        case .float: return .float(a.f)
        case .int: return .int(Int(a.i))
        case .string: return .string(s(a.s))
        case .tensor: return .tensor(try TensorProtoCodec.decode(a.t, baseDirectory: baseDirectory))
        case .graph: return .graph(try graph(a.g))
        case .floats: return .floats(a.floats)
        case .ints: return .ints(a.ints.map { Int($0) })
        case .strings: return .strings(a.strings.map(s))
        case .tensors: return .tensors(try a.tensors.map { try TensorProtoCodec.decode($0, baseDirectory: baseDirectory) })
        case .graphs: return .graphs(try a.graphs.map(graph))
        case .sparseTensor: return .tensor(try sparse(a.sparseTensor))
        case .sparseTensors: return .tensors(try a.sparseTensors.map(sparse))
        case .typeProto: return .type(try type(a.tp))
        case .typeProtos: return .types(try a.typeProtos.map(type))
        case .undefined:
            // Old files leave `type` unset; infer it from which field is filled.
            if a.f != 0 { return .float(a.f) }
            if a.i != 0 { return .int(Int(a.i)) }
            if !a.s.isEmpty { return .string(s(a.s)) }
            if a.hasT { return .tensor(try TensorProtoCodec.decode(a.t, baseDirectory: baseDirectory)) }
            if a.hasG { return .graph(try graph(a.g)) }
            if !a.floats.isEmpty { return .floats(a.floats) }
            if !a.ints.isEmpty { return .ints(a.ints.map { Int($0) }) }
            if !a.strings.isEmpty { return .strings(a.strings.map(s)) }
            throw OnyxError.invalidModel("attribute '\(a.name)' has no type and no value")
        case .UNRECOGNIZED(let v): throw OnyxError.invalidModel("attribute '\(a.name)' has unknown type \(v)")
        }
    }

    /// Densifies a sparse tensor (values + flat or coordinate indices).
    func sparse(_ s: Onnx_SparseTensorProto) throws -> Tensor {
        let values = try TensorProtoCodec.decode(s.values, baseDirectory: baseDirectory)
        let indices = try TensorProtoCodec.decode(s.indices, baseDirectory: baseDirectory)
        let shape = try s.dims.map { d -> Int in
            guard d >= 0, d < Int64(Int32.max) else { throw OnyxError.invalidModel("sparse tensor has invalid dims \(s.dims)") }
            return Int(d)
        }
        let total = Tensor.count(shape)
        let nnz = values.count
        let out = Tensor(zeros: values.dtype, shape: shape)
        let idx = indices.int64Values()
        let strides = Broadcast.strides(shape)
        let es = values.dtype.size
        guard values.dtype != .string else { throw OnyxError.invalidModel("sparse string tensors are not supported") }
        for k in 0..<nnz {
            var flat = 0
            if indices.rank == 1 {
                guard k < idx.count else { throw OnyxError.invalidModel("sparse tensor: too few indices") }
                flat = Int(idx[k])
            } else {
                for d in 0..<shape.count {
                    let j = k * shape.count + d
                    guard j < idx.count else { throw OnyxError.invalidModel("sparse tensor: too few indices") }
                    flat += Int(idx[j]) * strides[d]
                }
            }
            guard flat >= 0, flat < total else { throw OnyxError.invalidModel("sparse tensor index \(flat) out of range") }
            (out.rawPointer + flat * es).copyMemory(from: values.rawPointer + k * es, byteCount: es)
        }
        return out
    }

    func valueInfo(_ p: Onnx_ValueInfoProto) throws -> ValueInfo {
        ValueInfo(name: p.name, type: p.hasType ? try type(p.type) : .unknown, docString: p.docString)
    }

    func type(_ t: Onnx_TypeProto) throws -> ValueType {
        switch t.value {
        case .tensorType(let tt)?:
            let dt = DType(rawValue: Int(tt.elemType)) ?? .float32
            if DType(rawValue: Int(tt.elemType)) == nil && tt.elemType != 0 {
                return .unknown
            }
            return .tensor(dt, shape: tt.hasShape ? dims(tt.shape) : nil)
        case .sparseTensorType(let tt)?:
            return .tensor(DType(rawValue: Int(tt.elemType)) ?? .float32, shape: tt.hasShape ? dims(tt.shape) : nil)
        case .sequenceType(let s)?: return .sequence(try type(s.elemType))
        case .mapType(let m)?: return .map(key: DType(rawValue: Int(m.keyType)) ?? .int64, value: try type(m.valueType))
        case .optionalType(let o)?: return .optional(try type(o.elemType))
        default: return .unknown
        }
    }

    func dims(_ s: Onnx_TensorShapeProto) -> [Dim] {
        s.dim.map { d in
            switch d.value {
            case .dimValue(let v)?: return v >= 0 ? .fixed(Int(v)) : .unknown
            case .dimParam(let p)?: return p.isEmpty ? .unknown : .symbolic(p)
            default: return .unknown
            }
        }
    }
}

struct ModelExporter {
    func model(_ m: Model) throws -> Onnx_ModelProto {
        var p = Onnx_ModelProto()
        p.irVersion = Int64(m.irVersion)
        p.producerName = m.producerName
        p.producerVersion = m.producerVersion
        p.domain = m.domain
        p.modelVersion = Int64(m.modelVersion)
        p.docString = m.docString
        p.opsetImport = m.opsets.sorted { $0.key < $1.key }.map { k, v in
            var o = Onnx_OperatorSetIdProto(); o.domain = k; o.version = Int64(v); return o
        }
        p.metadataProps = m.metadata.map { kv in
            var e = Onnx_StringStringEntryProto(); e.key = kv.key; e.value = kv.value; return e
        }
        p.graph = try graph(m.graph)
        p.functions = try m.functions.map { f in
            var fp = Onnx_FunctionProto()
            fp.name = f.name; fp.domain = f.domain; fp.input = f.inputs; fp.output = f.outputs
            fp.attribute = f.attributeNames.filter { f.attributeDefaults[$0] == nil }
            fp.attributeProto = try f.attributeDefaults.sorted { $0.key < $1.key }.map { try attribute($0.key, $0.value) }
            fp.node = try f.nodes.map(node)
            fp.opsetImport = f.opsets.sorted { $0.key < $1.key }.map { k, v in
                var o = Onnx_OperatorSetIdProto(); o.domain = k; o.version = Int64(v); return o
            }
            return fp
        }
        return p
    }

    func graph(_ g: Graph) throws -> Onnx_GraphProto {
        var p = Onnx_GraphProto()
        p.name = g.name
        p.docString = g.docString
        p.node = try g.nodes.map(node)
        p.input = g.inputs.map(valueInfo)
        p.output = g.outputs.map(valueInfo)
        p.valueInfo = g.valueInfo.map(valueInfo)
        p.initializer = g.initializers.map { TensorProtoCodec.encode($0.tensor, name: $0.name) }
        return p
    }

    func node(_ n: Node) throws -> Onnx_NodeProto {
        var p = Onnx_NodeProto()
        p.name = n.name; p.opType = n.opType; p.domain = n.domain
        p.input = n.inputs; p.output = n.outputs; p.docString = n.docString
        p.attribute = try n.attributes.sorted { $0.key < $1.key }.map { try attribute($0.key, $0.value) }
        return p
    }

    func attribute(_ name: String, _ a: Attribute) throws -> Onnx_AttributeProto {
        var p = Onnx_AttributeProto()
        p.name = name
        switch a {
        case .float(let v): p.type = .float; p.f = v
        case .int(let v): p.type = .int; p.i = Int64(v)
        case .string(let v): p.type = .string; p.s = Data(v.utf8)
        case .tensor(let t): p.type = .tensor; p.t = TensorProtoCodec.encode(t)
        case .graph(let g): p.type = .graph; p.g = try graph(g)
        case .floats(let v): p.type = .floats; p.floats = v
        case .ints(let v): p.type = .ints; p.ints = v.map { Int64($0) }
        case .strings(let v): p.type = .strings; p.strings = v.map { Data($0.utf8) }
        case .tensors(let ts): p.type = .tensors; p.tensors = ts.map { TensorProtoCodec.encode($0) }
        case .graphs(let gs): p.type = .graphs; p.graphs = try gs.map(graph)
        case .type(let t): p.type = .typeProto; p.tp = type(t)
        case .types(let ts): p.type = .typeProtos; p.typeProtos = ts.map(type)
        case .ref(let r): p.refAttrName = r
        }
        return p
    }

    func valueInfo(_ v: ValueInfo) -> Onnx_ValueInfoProto {
        var p = Onnx_ValueInfoProto()
        p.name = v.name
        p.docString = v.docString
        if case .unknown = v.type {} else { p.type = type(v.type) }
        return p
    }

    func type(_ t: ValueType) -> Onnx_TypeProto {
        var p = Onnx_TypeProto()
        switch t {
        case .tensor(let dt, let shape):
            var tt = Onnx_TypeProto.Tensor()
            tt.elemType = Int32(dt.rawValue)
            if let shape {
                var sp = Onnx_TensorShapeProto()
                sp.dim = shape.map { d in
                    var pd = Onnx_TensorShapeProto.Dimension()
                    switch d {
                    case .fixed(let n): pd.dimValue = Int64(n)
                    case .symbolic(let s): pd.dimParam = s
                    case .unknown: break
                    }
                    return pd
                }
                tt.shape = sp
            }
            p.tensorType = tt
        case .sequence(let e):
            var s = Onnx_TypeProto.Sequence(); s.elemType = type(e); p.sequenceType = s
        case .map(let k, let v):
            var m = Onnx_TypeProto.Map(); m.keyType = Int32(k.rawValue); m.valueType = type(v); p.mapType = m
        case .optional(let e):
            var o = Onnx_TypeProto.Optional(); o.elemType = type(e); p.optionalType = o
        case .unknown: break
        }
        return p
    }
}
