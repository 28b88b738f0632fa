/// SplitMix64: a small, fast, seedable generator, so synthetic data is identical on every platform.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for item `index` of stream `seed`, independent of every other item.
    public init(seed: UInt64, index: UInt64) {
        var mixer = SplitMix64(seed: seed ^ 0x6A09_E667_F3BC_C909)
        state = mixer.next() ^ (index &* 0xD1B5_4A32_D192_ED03)
        state = next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1 / Float(1 << 24))
    }

    /// A uniform value in `range`.
    public mutating func uniform(_ range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// An approximately normal value with mean 0 and standard deviation `std` (sum of 4 uniforms).
    public mutating func normal(_ std: Float = 1) -> Float {
        let sum = uniform() + uniform() + uniform() + uniform()
        return (sum - 2) * 1.732_050_8 * std
    }

    /// True with probability `p`.
    public mutating func chance(_ p: Float) -> Bool {
        uniform() < p
    }
}
