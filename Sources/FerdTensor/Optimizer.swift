import Foundation

/// Stochastic gradient descent with momentum and weight decay exactly as `torch.optim.SGD` defines
/// them: g ← grad + wd·p; v ← μ·v + g (v ← g on the first step); p ← p − lr·v.
public struct SGD: Sendable {
    /// The learning rate of the next step.
    public var learningRate: Float
    public var momentum: Float
    public var weightDecay: Float
    /// The momentum buffers, one per parameter in the order given to ``step(_:)``; empty before the first step.
    public var velocities: [[Float]]

    public init(learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.velocities = []
    }

    /// Updates `parameters` in place from their ``Tensor/grad`` (a parameter without a gradient is
    /// skipped, as PyTorch does) and clears the gradients.
    public mutating func step(_ parameters: [Tensor]) {
        if velocities.isEmpty { velocities = parameters.map { _ in [] } }
        precondition(velocities.count == parameters.count, "SGD.step: the parameter list changed between steps")
        let lr = learningRate, mu = momentum, wd = weightDecay
        for (index, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            parameter.grad = nil
            let first = velocities[index].isEmpty
            if first { velocities[index] = [Float](repeating: 0, count: parameter.count) }
            // One fused pass per parameter: v ← μ·v + g + wd·p (v ← g + wd·p at first), p ← p − lr·v.
            velocities[index].withUnsafeMutableBufferPointer { v in
                parameter.data.withUnsafeMutableBufferPointer { p in
                    grad.withUnsafeBufferPointer { g in
                        let v = v.baseAddress!, p = p.baseAddress!, g = g.baseAddress!
                        Parallel.forRange(parameter.count) { range in
                            if first {
                                for i in range { v[i] = g[i] + wd * p[i]; p[i] -= lr * v[i] }
                            } else {
                                for i in range { v[i] = mu * v[i] + g[i] + wd * p[i]; p[i] -= lr * v[i] }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// How the learning rate changes from epoch to epoch.
public enum LearningRateSchedule: Sendable, Equatable, Codable {
    /// The reference code: `StepLR(step_size, gamma)`, lr·γ^⌊epoch/step⌋ (default ×0.5 every 7 epochs).
    case step(every: Int, factor: Float)
    /// The paper's text ("decreases at an exponential rate"): lr·γ^epoch, `ExponentialLR(gamma)`.
    case exponential(factor: Float)
    /// lr·γ^(number of milestones ≤ epoch), `MultiStepLR(milestones, gamma)` with 0-based epochs (RAN's code:
    /// ×0.1 at 30 %, 50 % and 80 % of the epochs).
    case multiStep(milestones: [Int], factor: Float)
    /// No change.
    case constant

    /// The reference implementation's schedule: ×0.5 every 7 epochs.
    public static let reference = LearningRateSchedule.step(every: 7, factor: 0.5)

    /// The learning rate for `epoch` (0-based) given the base rate.
    public func rate(base: Float, epoch: Int) -> Float {
        switch self {
        case let .step(every, factor): base * powf(factor, Float(epoch / max(1, every)))
        case let .exponential(factor): base * powf(factor, Float(epoch))
        case let .multiStep(milestones, factor): base * powf(factor, Float(milestones.filter { $0 <= epoch }.count))
        case .constant: base
        }
    }
}
