@_exported import FerdRandom

/// The generator of weight initialisation and of the tests' random inputs: the shared `SplitMix64`, so that
/// initialisation is reproducible from a seed on every platform.
public typealias SeededGenerator = SplitMix64

extension Tensor {
    /// Values drawn from N(0, std²).
    public static func normal(shape: [Int], std: Float = 1, requiresGrad: Bool = false,
                              using generator: inout SeededGenerator) -> Tensor {
        let values = (0..<shape.reduce(1, *)).map { _ in generator.boxMullerNormal() * std }
        return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
    }

    /// Values drawn from U(−bound, bound).
    public static func uniform(shape: [Int], bound: Float, requiresGrad: Bool = false,
                               using generator: inout SeededGenerator) -> Tensor {
        let values = (0..<shape.reduce(1, *)).map { _ in (generator.uniform() * 2 - 1) * bound }
        return Tensor(shape: shape, data: values, requiresGrad: requiresGrad)
    }
}
