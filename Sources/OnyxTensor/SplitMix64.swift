/// SplitMix64: a small, fast, seedable generator — the same seed gives the same stream on every platform.
/// Used for reproducible random inputs, sampling operators, training initialisation and tests.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }

    @inlinable public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inlinable public mutating func unitDouble() -> Double { Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0) }

    /// Uniform in [0, 1) with 24 random bits (exact in Float).
    @inlinable public mutating func unitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
