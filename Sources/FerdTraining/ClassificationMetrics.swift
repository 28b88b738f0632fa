/// A confusion matrix over the 7 expression classes and the field's metrics computed from it:
/// WAR (weighted average recall = overall accuracy) and UAR (unweighted average recall = mean
/// per-class recall), as DFEW's metric code and scikit-learn define them.
public struct ConfusionMatrix: Sendable, Equatable, Codable {
    /// counts[true class][predicted class].
    public private(set) var counts: [[Int]]

    public init(classes: Int = 7) {
        counts = Array(repeating: Array(repeating: 0, count: classes), count: classes)
    }

    /// A matrix from stored counts; nil unless it is square.
    public init?(counts: [[Int]]) {
        guard counts.allSatisfy({ $0.count == counts.count }) else { return nil }
        self.counts = counts
    }

    public var classes: Int { counts.count }

    /// Adds one sample.
    public mutating func add(truth: Int, prediction: Int) {
        counts[truth][prediction] += 1
    }

    /// The number of samples.
    public var total: Int { counts.reduce(0) { $0 + $1.reduce(0, +) } }

    /// Samples whose true class is `index`.
    public func support(_ index: Int) -> Int { counts[index].reduce(0, +) }

    /// Recall of each class, cm[i,i]/Σ_j cm[i,j]; nil for a class with no test samples.
    public var recall: [Double?] {
        (0..<classes).map { i in
            let support = support(i)
            return support > 0 ? Double(counts[i][i]) / Double(support) : nil
        }
    }

    /// WAR: correct predictions over all samples (0 for an empty matrix).
    public var weightedAverageRecall: Double {
        let total = total
        guard total > 0 else { return 0 }
        return Double((0..<classes).reduce(0) { $0 + counts[$1][$1] }) / Double(total)
    }

    /// UAR as scikit-learn's `recall_score(average="macro")`: the mean recall over the classes that
    /// occur among the true labels or the predictions; a class that is predicted but has no true
    /// sample counts with recall 0, a class that occurs in neither is left out.
    public var unweightedAverageRecall: Double {
        var sum = 0.0, included = 0
        for i in 0..<classes {
            let predicted = (0..<classes).reduce(0) { $0 + counts[$1][i] }
            let support = support(i)
            guard support > 0 || predicted > 0 else { continue }
            sum += support > 0 ? Double(counts[i][i]) / Double(support) : 0
            included += 1
        }
        return included > 0 ? sum / Double(included) : 0
    }
}

/// The mean and the sample standard deviation (n−1, as NumPy's `std(ddof=1)` and the papers' ±) of
/// per-fold values; the deviation is 0 for a single value.
public func meanAndStandardDeviation(_ values: [Double]) -> (mean: Double, standardDeviation: Double) {
    guard !values.isEmpty else { return (0, 0) }
    let mean = values.reduce(0, +) / Double(values.count)
    guard values.count > 1 else { return (mean, 0) }
    let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)
    return (mean, variance.squareRoot())
}
