import FerdTensor
import XCTest

/// SGD and the learning-rate schedules against PyTorch's definitions worked by hand.
final class OptimizerTests: XCTestCase {
    func testSGDMomentumAndWeightDecayFollowPyTorch() {
        let p = Tensor(shape: [2], data: [1, -2], requiresGrad: true)
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        p.grad = [0.5, 0.25]
        sgd.step([p])
        // v1 = g + wd·p = [0.51, 0.23]; p1 = p − 0.1·v1
        XCTAssertEqual(p.data[0], 1 - 0.1 * 0.51, accuracy: 1e-7)
        XCTAssertEqual(p.data[1], -2 - 0.1 * 0.23, accuracy: 1e-7)
        XCTAssertNil(p.grad)
        p.grad = [0.5, 0.25]
        let p1 = p.data
        sgd.step([p])
        let v2 = [0.9 * 0.51 + 0.5 + 0.01 * p1[0], 0.9 * 0.23 + 0.25 + 0.01 * p1[1]]
        XCTAssertEqual(p.data[0], p1[0] - 0.1 * v2[0], accuracy: 1e-6)
        XCTAssertEqual(p.data[1], p1[1] - 0.1 * v2[1], accuracy: 1e-6)
    }

    func testParameterWithoutGradientIsSkipped() {
        let p = Tensor(shape: [1], data: [3], requiresGrad: true)
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.1)
        sgd.step([p])
        XCTAssertEqual(p.data, [3])
    }

    func testSchedules() {
        let step = LearningRateSchedule.reference
        XCTAssertEqual(step.rate(base: 1e-3, epoch: 6), 1e-3)
        XCTAssertEqual(step.rate(base: 1e-3, epoch: 7), 5e-4)
        XCTAssertEqual(step.rate(base: 1e-3, epoch: 14), 2.5e-4)
        XCTAssertEqual(LearningRateSchedule.exponential(factor: 0.9).rate(base: 1, epoch: 2), 0.81, accuracy: 1e-6)
    }
}
