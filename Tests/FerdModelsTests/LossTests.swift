@testable import FerdModels
import FerdTensor
import XCTest

/// The intensity-aware loss against its closed form (the IAL paper's loss, as the reference main.py computes it) on hand-made logits.
final class LossTests: XCTestCase {
    private func softplus(_ x: Double) -> Double { log(1 + exp(x)) }

    func testIntensityAwareLossMatchesClosedForm() {
        // Row 0: target 2 is not the largest (class 4 is). Row 1: target 0 is already the largest.
        let logits = Tensor(shape: [2, 7], data: [
            0.1, -0.3, 0.5, 0.2, 1.5, -1.0, 0.0,
            2.0, 0.7, -0.2, 0.9, 0.1, 0.3, -0.5,
        ], requiresGrad: true)
        let loss = logits.intensityAwareLoss(targets: [2, 0])
        let expected = (softplus(1.5 - 0.5) + softplus(0.9 - 2.0)) / 2
        XCTAssertEqual(Double(loss.item), expected, accuracy: 1e-6)
        loss.backward()
        let grad = logits.grad!
        let p0 = 1 / (1 + exp(-(0.5 - 1.5))), p1 = 1 / (1 + exp(-(2.0 - 0.9)))
        XCTAssertEqual(Double(grad[2]), -(1 - p0) / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(grad[4]), (1 - p0) / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(grad[7]), -(1 - p1) / 2, accuracy: 1e-6)
        XCTAssertEqual(Double(grad[7 + 3]), (1 - p1) / 2, accuracy: 1e-6)
        for (index, value) in grad.enumerated() where ![2, 4, 7, 10].contains(index) {
            XCTAssertEqual(value, 0, "class \(index % 7) of row \(index / 7) is neither target nor most confusing")
        }
    }

    func testIntensityAwareLossEqualsTwoWayCrossEntropy() {
        let logits = Tensor(shape: [1, 7], data: [0.3, 0.1, -0.4, 0.8, 0.2, 0.0, -0.1])
        let twoWay = Tensor(shape: [1, 2], data: [0.3, 0.8]).crossEntropy(targets: [0])
        XCTAssertEqual(logits.intensityAwareLoss(targets: [0]).item, twoWay.item, accuracy: 1e-6)
    }

    func testIntensityAwareLossGradientMatchesFiniteDifferences() {
        let logits = Tensor(shape: [3, 7], data: (0..<21).map { Float(($0 * 37) % 23) / 7 - 1.5 }, requiresGrad: true)
        let targets = [1, 6, 3]
        let analytic: [Float] = {
            logits.intensityAwareLoss(targets: targets).backward()
            defer { logits.grad = nil }
            return logits.grad!
        }()
        for index in 0..<21 {
            let saved = logits.data[index]
            logits.data[index] = saved + 1e-2
            let plus = Autograd.withoutGradient { logits.intensityAwareLoss(targets: targets).item }
            logits.data[index] = saved - 1e-2
            let minus = Autograd.withoutGradient { logits.intensityAwareLoss(targets: targets).item }
            logits.data[index] = saved
            XCTAssertEqual(analytic[index], (plus - minus) / 2e-2, accuracy: 2e-3, "logit \(index)")
        }
    }

    func testTotalLossCombinesTheTerms() {
        let logits = Tensor(shape: [2, 7], data: (0..<14).map { Float($0 % 5) * 0.3 })
        let aux2 = Tensor(shape: [2, 7], data: (0..<14).map { Float($0 % 3) * 0.2 })
        let aux3 = Tensor(shape: [2, 7], data: (0..<14).map { Float($0 % 4) * 0.1 })
        let output = ModelOutput(logits: logits, auxiliaryLogits: [aux2, aux3])
        let targets = [3, 5]
        let breakdown = output.loss(targets: targets, weights: LossWeights(intensityAware: 0.1, auxiliary: [0.05, 0]))
        let expected = logits.crossEntropy(targets: targets).item + 0.05 * aux2.crossEntropy(targets: targets).item
            + 0.1 * logits.intensityAwareLoss(targets: targets).item
        XCTAssertEqual(breakdown.total.item, expected, accuracy: 1e-6)
        XCTAssertEqual(breakdown.auxiliary.count, 2)
    }
}
