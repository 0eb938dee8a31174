import Foundation
import Testing
@testable import OnyxTensor

/// `Tensor(shape:values:)` copies trivial element types as one block (it used to copy element by element through
/// generic code, which made model loading slow) and strings one by one: every element type must land in the
/// tensor's storage byte for byte, and read back unchanged.
@Suite struct TensorValuesTests {
    static func roundTrip<T: TensorElement & Equatable>(_ values: [T], _ shape: [Int]) throws {
        let t = try Tensor(shape: shape, values: values)
        #expect(t.dtype == T.dtype)
        #expect(t.shape == shape)
        #expect(try t.toArray(T.self) == values)
        if T.self != String.self {
            let stored = Array(UnsafeRawBufferPointer(start: t.rawPointer, count: values.count * MemoryLayout<T>.stride))
            #expect(stored == values.withUnsafeBytes { Array($0) })
        }
    }

    @Test func everyElementTypeRoundTrips() throws {
        try Self.roundTrip([Float](stride(from: -3.5, through: 3.5, by: 0.5)), [3, 5])
        try Self.roundTrip([Double.pi, -0.0, .infinity, 1e-300], [4])
        try Self.roundTrip([Float16(1.5), Float16(-2), Float16(65504)], [3])
        try Self.roundTrip([Int8.min, 0, Int8.max], [3])
        try Self.roundTrip([Int16.min, -1, Int16.max, 7], [2, 2])
        try Self.roundTrip([Int32.min, 12345, Int32.max], [3, 1])
        try Self.roundTrip([Int64.min, 0, Int64.max], [1, 3])
        try Self.roundTrip([UInt8(0), 128, 255], [3])
        try Self.roundTrip([UInt16(0), 65535], [2])
        try Self.roundTrip([UInt32(0), 4_000_000_000], [2])
        try Self.roundTrip([UInt64(0), UInt64.max], [2])
        try Self.roundTrip([true, false, true, true], [2, 2])
        try Self.roundTrip(["a", "", "ünïcode", "x,y"], [4])
        try Self.roundTrip([Float](repeating: 0.25, count: 1 << 16), [256, 256])
        #expect(throws: (any Error).self) { try Tensor(shape: [2, 2], values: [Float(1), 2, 3]) }
    }
}
