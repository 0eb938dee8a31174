import Foundation
import Testing
@testable import Onyx

/// Reference values written by numpy (scripts/make_core_fixtures.py).
struct ReferenceArray: Decodable {
    let dtype: String
    let shape: [Int]
    let values: [ValueEntry]
    enum ValueEntry: Decodable {
        case number(Double), text(String)
        init(from d: Decoder) throws {
            let c = try d.singleValueContainer()
            if let v = try? c.decode(Double.self) { self = .number(v) } else { self = .text(try c.decode(String.self)) }
        }
    }
}

let referenceArrays: [String: ReferenceArray] = {
    guard let data = try? Data(contentsOf: Fixtures.url("core/npy/values.json")),
          let v = try? JSONDecoder().decode([String: ReferenceArray].self, from: data) else { return [:] }
    return v
}()

let npyNames = ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                "uint64", "bool", "scalar", "empty", "fortran", "string"]

func expectMatchesReference(_ t: Tensor, _ name: String) {
    guard let ref = referenceArrays[name] else { Issue.record("no reference for \(name)"); return }
    #expect(t.shape == ref.shape, "\(name) shape")
    #expect(t.count == ref.values.count)
    for (i, v) in ref.values.enumerated() where i < t.count {
        switch v {
        case .number(let d): #expect(t.doubleValue(at: i) == d, "\(name)[\(i)]")
        case .text(let s): #expect(t.strings[i] == s, "\(name)[\(i)]")
        }
    }
}

@Suite struct TensorFileTests {
    @Test(arguments: npyNames)
    func readsNumpyFiles(name: String) throws {
        let t = try NPY.read(Fixtures.url("core/npy/\(name).npy"))
        expectMatchesReference(t, name)
    }

    @Test(arguments: npyNames)
    func npyRoundTrip(name: String) throws {
        let t = try NPY.read(Fixtures.url("core/npy/\(name).npy"))
        let back = try NPY.decode(NPY.encode(t))
        #expect(back.dtype == t.dtype)
        #expect(back.shape == t.shape)
        expectMatchesReference(back, name)
    }

    @Test(arguments: npyNames.filter { $0 != "fortran" })
    func readsTensorProtoFiles(name: String) throws {
        let t = try TensorProtoCodec.read(Fixtures.url("core/pb/\(name).pb"))
        expectMatchesReference(t, name)
        let back = try TensorProtoCodec.decode(TensorProtoCodec.encode(t))
        expectMatchesReference(back, name)
    }

    @Test func rejectsGarbageNpy() {
        #expect(throws: (any Error).self) { try NPY.decode(Data("not numpy at all".utf8)) }
        var truncated = (try? Data(contentsOf: Fixtures.url("core/npy/float32.npy"))) ?? Data()
        truncated.removeLast(10)
        #expect(throws: (any Error).self) { try NPY.decode(truncated) }
    }

    @Test func broadcastShapes() {
        #expect(Broadcast.shape([[2, 1, 4], [3, 1]]) == [2, 3, 4])
        #expect(Broadcast.shape([[], [5]]) == [5])
        #expect(Broadcast.shape([[2, 3], [4, 3]]) == nil)
    }
}

@Suite struct TensorConstructionTests {
    /// Regression: an empty `[Bool]`/`[Int64]`/`[Float]` used to produce a string tensor.
    @Test func emptyArraysKeepTheirDType() throws {
        #expect(Tensor(shape: [0], checkedValues: [Bool]()).dtype == .bool)
        #expect(Tensor(shape: [0], checkedValues: [Int64]()).dtype == .int64)
        #expect(Tensor(shape: [0, 3], checkedValues: [Float]()).dtype == .float32)
        #expect(Tensor(shape: [0], checkedValues: [String]()).dtype == .string)
    }
}
