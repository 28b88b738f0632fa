import FerdTensor
import Foundation

extension Tensor {
    /// The intensity-aware loss of the IAL paper: with m the largest non-target logit (a constant,
    /// first index on ties), mean_b −log(e^{z_y} / (e^{z_y} + e^{z_m})) = mean_b softplus(z_m − z_y),
    /// computed in float64 as the reference does.
    public func intensityAwareLoss(targets: [Int]) -> Tensor {
        precondition(rank == 2 && shape[0] == targets.count && shape[1] >= 2,
                     "intensityAwareLoss: logits \(shape) for \(targets.count) targets")
        let batch = shape[0], classes = shape[1]
        var confusing = [Int](repeating: 0, count: batch)
        var total: Double = 0
        var slopes = [Float](repeating: 0, count: batch)
        for b in 0..<batch {
            let row = b * classes, y = targets[b]
            var best = -1
            for k in 0..<classes where k != y && (best < 0 || data[row + k] > data[row + best]) { best = k }
            confusing[b] = best
            let margin = Double(data[row + best]) - Double(data[row + y])
            total += max(margin, 0) + log1p(exp(-abs(margin)))
            slopes[b] = Float(1 / (1 + exp(-margin)))   // 1 − p, with p = σ(z_y − z_m)
        }
        return .result(shape: [], data: [Float(total / Double(batch))], inputs: [self]) { [self] g in
            var dx = [Float](repeating: 0, count: count)
            let scale = g[0] / Float(batch)
            for b in 0..<batch {
                dx[b * classes + targets[b]] -= slopes[b] * scale
                dx[b * classes + confusing[b]] += slopes[b] * scale
            }
            accumulateGrad(dx)
        }
    }
}

/// The weights of the training objective L = CE + Σ aux_i·CE(aux head i) + λ·IAL.
public struct LossWeights: Sendable, Codable, Equatable {
    /// λ, the weight of the intensity-aware loss (the paper and code: 0.1).
    public var intensityAware: Float
    /// Weights of the auxiliary classifiers of layer2 and layer3 (the code: 0.05 and 0).
    public var auxiliary: [Float]

    public init(intensityAware: Float = 0.1, auxiliary: [Float] = [0.05, 0]) {
        self.intensityAware = intensityAware
        self.auxiliary = auxiliary
    }

    /// The reference code's weights.
    public static let reference = LossWeights()
}

extension ModelOutput {
    /// The training objective of the reference `main.py` for these outputs and targets (0..6):
    /// parts `ce`, `ial` and `aux2`, `aux3` (one per auxiliary head present).
    public func loss(targets: [Int], weights: LossWeights = .reference) -> LossBreakdown {
        let ce = logits.crossEntropy(targets: targets)
        let ial = logits.intensityAwareLoss(targets: targets)
        var total = ce + ial * weights.intensityAware
        var parts = [LossPart(name: LossPart.crossEntropy, value: ce.item), LossPart(name: LossPart.intensityAware, value: ial.item)]
        for (index, (head, weight)) in zip(auxiliaryLogits, weights.auxiliary).enumerated() {
            let term = head.crossEntropy(targets: targets)
            parts.append(LossPart(name: "\(LossPart.auxiliaryPrefix)\(index + 2)", value: term.item))
            total = total + term * weight
        }
        return LossBreakdown(total: total, parts: parts)
    }
}
