import FerdTensor
import XCTest

/// Compares the engine's reverse-mode gradients with central finite differences.
///
/// The engine computes in float32, so the check cannot run in float64. It projects the output onto
/// fixed random weights and sums in Double, then uses a step of 1e-2: the truncation error of the
/// central difference is O(h²·f‴) ≈ 1e-4 relative for these smooth functions, the rounding error is
/// about ε₃₂·|f|/h ≈ 1e-5·|f|; a relative tolerance of 1e-2 (plus 2e-3 absolute) is far above both and
/// far below the error of any wrong gradient formula (which is O(1) relative).
///
/// With `skippingKinks`, a position where the forward and backward one-sided differences disagree
/// (the step crossed a ReLU or max-pool kink somewhere downstream, where no derivative exists) is
/// skipped; at most a quarter of the positions may be skipped, so a wrong gradient cannot hide there.
public func checkGradients(_ inputs: [Tensor], step: Float = 1e-2, relativeTolerance: Float = 1e-2,
                           absoluteTolerance: Float = 2e-3, samplesPerInput: Int = 24, seed: UInt64 = 7,
                           skippingKinks: Bool = false,
                           file: StaticString = #filePath, line: UInt = #line,
                           _ function: ([Tensor]) -> Tensor) {
    var generator = SeededGenerator(seed: seed)
    let probe = Autograd.withoutGradient { function(inputs) }
    let projection = (0..<probe.count).map { _ in generator.uniform() * 2 - 1 }

    func projected() -> Double {
        let output = Autograd.withoutGradient { function(inputs) }
        var total: Double = 0
        for i in 0..<output.count { total += Double(output.data[i]) * Double(projection[i]) }
        return total
    }

    for input in inputs { input.grad = nil }
    let output = function(inputs)
    (output * Tensor(shape: output.shape, data: projection)).sum().backward()

    for (index, input) in inputs.enumerated() where input.requiresGrad {
        guard let analytic = input.grad else {
            XCTFail("input \(index) received no gradient", file: file, line: line)
            continue
        }
        let positions = input.count <= samplesPerInput
            ? Array(0..<input.count)
            : (0..<samplesPerInput).map { _ in Int(generator.next() % UInt64(input.count)) }
        var skipped = 0
        for position in positions {
            let saved = input.data[position]
            input.data[position] = saved + step
            let plus = projected()
            input.data[position] = saved - step
            let minus = projected()
            input.data[position] = saved
            let numeric = Float((plus - minus) / Double(2 * step))
            if skippingKinks {
                let center = projected()
                let forward = Float((plus - center) / Double(step)), backward = Float((center - minus) / Double(step))
                if abs(forward - backward) > absoluteTolerance + relativeTolerance * max(abs(forward), abs(backward)) {
                    skipped += 1
                    continue
                }
            }
            let difference = abs(numeric - analytic[position])
            let allowed = absoluteTolerance + relativeTolerance * max(abs(numeric), abs(analytic[position]))
            XCTAssertLessThanOrEqual(difference, allowed,
                                     "input \(index) \(input.shape) at \(position): analytic \(analytic[position]) vs numeric \(numeric)",
                                     file: file, line: line)
        }
        XCTAssertLessThanOrEqual(skipped * 4, positions.count,
                                 "input \(index): \(skipped) of \(positions.count) positions sit on a kink", file: file, line: line)
    }
}

/// A parameter-like tensor of N(0, std²) values.
public func randomTensor(_ shape: [Int], std: Float = 1, seed: UInt64, requiresGrad: Bool = true) -> Tensor {
    var generator = SeededGenerator(seed: seed)
    return Tensor.normal(shape: shape, std: std, requiresGrad: requiresGrad, using: &generator)
}
