// Errors of the data library: one line naming the file, the 1-based line and column (field number) when known.
import Foundation

public struct DataError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String
    public init(file: String, line: Int = 0, column: Int = 0, _ message: String) {
        self.file = file; self.line = line; self.column = column; self.message = message
    }
    public var description: String {
        var s = file
        if line > 0 { s += ":\(line)"; if column > 0 { s += ":\(column)" } }
        return s + ": " + message.replacingOccurrences(of: "\n", with: " ")
    }
}

/// A seeded, platform-independent generator (xoshiro256** seeded by SplitMix64): same seed, same data everywhere.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    var s: (UInt64, UInt64, UInt64, UInt64)
    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }
    public mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3
        s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }
    /// Uniform integer in 0..<n (n > 0).
    public mutating func below(_ n: Int) -> Int { Int(next(upperBound: UInt64(n))) }
}
