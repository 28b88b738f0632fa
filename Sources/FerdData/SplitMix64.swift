@_exported import FerdRandom

extension SplitMix64 {
    /// The synthetic data's normal draw: `sumOfUniformsNormal(std:)`, an approximation (not Box–Muller).
    mutating func normal(_ std: Float = 1) -> Float {
        sumOfUniformsNormal(std: std)
    }
}
