import FerdTensor
import Foundation

extension Tensor {
    /// The compactness term of STT's compact softmax cross-entropy as ferd reconstructs it: with q the
    /// softmax over the non-target logits of each row of (B, K) logits and u the uniform distribution over
    /// those K − 1 classes, mean_b ½[KL(q‖u) + KL(u‖q)], computed in float64. The target logit gets no
    /// gradient from it.
    public func complementUniformity(targets: [Int]) -> Tensor {
        precondition(rank == 2 && shape[0] == targets.count && shape[1] >= 2,
                     "complementUniformity: logits \(shape) for \(targets.count) targets")
        let batch = shape[0], classes = shape[1], others = Double(classes - 1)
        var gradient = [Float](repeating: 0, count: count)
        var total: Double = 0
        for b in 0..<batch {
            let row = b * classes, target = targets[b]
            precondition((0..<classes).contains(target), "complementUniformity: target \(target) outside 0..<\(classes)")
            var peak = -Double.infinity
            for k in 0..<classes where k != target { peak = max(peak, Double(data[row + k])) }
            var sum: Double = 0
            for k in 0..<classes where k != target { sum += exp(Double(data[row + k]) - peak) }
            let logSum = log(sum) + peak
            var entropyTerm: Double = 0, logTerm: Double = 0
            for k in 0..<classes where k != target {
                let logQ = Double(data[row + k]) - logSum
                entropyTerm += exp(logQ) * logQ
                logTerm += logQ
            }
            // KL(q‖u) = Σ q log q + log(K−1) and KL(u‖q) = −log(K−1) − Σ log q / (K−1).
            total += 0.5 * (entropyTerm - logTerm / others)
            for k in 0..<classes where k != target {
                let logQ = Double(data[row + k]) - logSum, q = exp(logQ)
                gradient[row + k] = Float(0.5 * (q * (logQ - entropyTerm) + q - 1 / others) / Double(batch))
            }
        }
        return .result(shape: [], data: [Float(total / Double(batch))], inputs: [self]) { [self] g in
            accumulateGrad(gradient.map { $0 * g[0] })
        }
    }
}
