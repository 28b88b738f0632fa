import Foundation

extension Tensor {
    /// Mean cross-entropy of (B, K) logits against class indices, as PyTorch's `F.cross_entropy`.
    /// `weight` scales the loss (and its gradient) without another graph node.
    public func crossEntropy(targets: [Int], weight: Float = 1) -> Tensor {
        precondition(rank == 2 && shape[0] == targets.count, "crossEntropy: logits \(shape) for \(targets.count) targets")
        let batch = shape[0], classes = shape[1]
        for target in targets {
            precondition((0..<classes).contains(target), "crossEntropy: target \(target) outside 0..<\(classes)")
        }
        var probabilities = [Float](repeating: 0, count: count)
        var total: Double = 0
        for b in 0..<batch {
            let row = b * classes
            let peak = data[row..<row + classes].max()!
            var sum: Double = 0
            for k in 0..<classes { sum += Double(expf(data[row + k] - peak)) }
            for k in 0..<classes { probabilities[row + k] = Float(Double(expf(data[row + k] - peak)) / sum) }
            total += log(sum) + Double(peak) - Double(data[row + targets[b]])
        }
        let loss = Float(total / Double(batch)) * weight
        return .result(shape: [], data: [loss], inputs: [self]) { [self] g in
            let scale = g[0] * weight / Float(batch)
            var dx = probabilities
            for b in 0..<batch { dx[b * classes + targets[b]] -= 1 }
            accumulateGrad(dx.map { $0 * scale })
        }
    }
}
