import FerdTraining

/// A per-fold metric summarised as the papers print it: mean ± sample standard deviation (n−1) over
/// `count` folds.
public struct Spread: Sendable, Equatable, Codable {
    public var mean: Double
    public var standardDeviation: Double
    public var count: Int

    public init(mean: Double, standardDeviation: Double, count: Int) {
        self.mean = mean
        self.standardDeviation = standardDeviation
        self.count = count
    }

    /// The spread of `values`; nil when there are none.
    public init?(_ values: [Double]) {
        guard !values.isEmpty else { return nil }
        let summary = meanAndStandardDeviation(values)
        self.init(mean: summary.mean, standardDeviation: summary.standardDeviation, count: values.count)
    }
}
