import Foundation

/// SplitMix64: the one small, fast, seedable generator of the project. Initialisation, synthetic data,
/// sampling and augmentation draw from it, so they are identical from a seed on every platform (golden
/// fixtures and checkpoints depend on every value it gives).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    @usableFromInline var state: UInt64

    @inlinable
    public init(seed: UInt64) {
        state = seed
    }

    /// A generator for item `index` of stream `seed`, independent of every other item.
    @inlinable
    public init(seed: UInt64, index: UInt64) {
        var mixer = SplitMix64(seed: seed ^ 0x6A09_E667_F3BC_C909)
        state = mixer.next() ^ (index &* 0xD1B5_4A32_D192_ED03)
        state = next()
    }

    @inlinable
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1): the top 24 bits of `next()` scaled by 2⁻²⁴ (exact).
    @inlinable
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1 / Float(1 << 24))
    }

    /// A uniform value in `range`.
    @inlinable
    public mutating func uniform(_ range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * uniform()
    }

    /// True with probability `p`.
    @inlinable
    public mutating func chance(_ p: Float) -> Bool {
        uniform() < p
    }

    /// An approximately normal value with mean 0 and standard deviation `std`: the sum of four uniforms
    /// (Irwin–Hall), centred and scaled. Cheap and bounded (|value| < 2√3·std); the synthetic data uses it.
    @inlinable
    public mutating func sumOfUniformsNormal(std: Float = 1) -> Float {
        let sum = uniform() + uniform() + uniform() + uniform()
        return (sum - 2) * 1.732_050_8 * std
    }

    /// A standard normal value by the Box–Muller transform of two 53-bit uniforms; weight initialisation
    /// uses it.
    @inlinable
    public mutating func boxMullerNormal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}
