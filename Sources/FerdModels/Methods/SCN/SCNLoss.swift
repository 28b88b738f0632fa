import FerdTensor

extension Tensor {
    /// SCN's rank regularisation of the importance weights α (N): with the M = ⌊β·N⌋ largest weights as
    /// the high group and the other N − M as the low group, max(0, δ1 − (mean α_high − mean α_low)).
    /// M is computed in float64 from β's shortest decimal form, as the authors' Python does.
    /// The grouping is a constant of the step (no gradient through the sort); ties go to the lower
    /// index first. A batch with an empty group (M = 0 or M = N) gives 0.
    public func rankRegularization(fraction: Float, margin: Float) -> Tensor {
        precondition(rank == 1, "rankRegularization: importance weights must be (N), got \(shape)")
        let n = count
        let high = Int((Double("\(fraction)")! * Double(n)).rounded(.down))
        guard high > 0, high < n else { return .result(shape: [], data: [0], inputs: [self]) { _ in } }
        let order = (0..<n).sorted { data[$0] > data[$1] || (data[$0] == data[$1] && $0 < $1) }
        var highSum: Double = 0, lowSum: Double = 0
        for (rank, index) in order.enumerated() {
            if rank < high { highSum += Double(data[index]) } else { lowSum += Double(data[index]) }
        }
        let difference = lowSum / Double(n - high) - highSum / Double(high) + Double(margin)
        guard difference > 0 else { return .result(shape: [], data: [0], inputs: [self]) { _ in } }
        return .result(shape: [], data: [Float(difference)], inputs: [self]) { [self] g in
            var dx = [Float](repeating: 0, count: n)
            for (rank, index) in order.enumerated() {
                dx[index] = rank < high ? -g[0] / Float(high) : g[0] / Float(n - high)
            }
            accumulateGrad(dx)
        }
    }
}

/// SCN's relabelling (Wang et al., CVPR 2020, as the authors' code does it): every sample whose largest
/// predicted probability exceeds the probability of its label by more than δ2 takes the predicted class.
public enum SCNRelabelling {
    /// The labels after relabelling, from the clips' logits (B, classes) and their labels.
    public static func relabel(logits: Tensor, targets: [Int], margin: Float) -> [Int] {
        precondition(logits.rank == 2 && logits.shape[0] == targets.count, "relabel: logits \(logits.shape) for \(targets.count) targets")
        let probabilities = logits.detached().softmax().data, classes = logits.shape[1]
        return targets.enumerated().map { b, target in
            let row = probabilities[(b * classes)..<((b + 1) * classes)]
            let best = row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }!
            return row[best] - row[b * classes + target] > margin ? best - b * classes : target
        }
    }
}
