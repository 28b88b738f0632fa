import Foundation

/// A small, fast, seedable generator (SplitMix64) so that initialisation, sampling and augmentation
/// are reproducible from a seed on every platform.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) {
        state = seed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform value in [0, 1).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) / Float(1 << 24)
    }

    /// A standard normal value (Box–Muller).
    public mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }
}

extension Tensor {
    /// Values drawn from N(0, std²).
    public static func normal(shape: [Int], std: Float = 1, requiresGrad: Bool = false,
                              using generator: inout SeededGenerator) -> Tensor {
        let values = (0..<shape.reduce(1, *)).map { _ in generator.nextNormal() * std }
        return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
    }

    /// Values drawn from U(−bound, bound).
    public static func uniform(shape: [Int], bound: Float, requiresGrad: Bool = false,
                               using generator: inout SeededGenerator) -> Tensor {
        let values = (0..<shape.reduce(1, *)).map { _ in (generator.nextUniform() * 2 - 1) * bound }
        return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
    }
}
