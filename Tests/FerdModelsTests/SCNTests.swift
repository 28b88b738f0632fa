@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// SCN (Wang et al., CVPR 2020): the authors' `Res18Feature` keys, the rank regularisation, relabelling.
final class SCNTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    func testPaperPresetHasTheReferenceKeysShapesAndCount() throws {
        let model = try ExpressionModels.make(ModelConfiguration.preset(named: "paper", method: .scn)!)
        XCTAssertTrue(model is SCNModel)
        let expected: [String: [Int]] = [
            "features.0.weight": [64, 3, 7, 7], "features.1.running_var": [64],
            "features.4.0.conv1.weight": [64, 64, 3, 3], "features.5.0.downsample.0.weight": [128, 64, 1, 1],
            "features.5.0.downsample.1.running_mean": [128], "features.6.1.conv2.weight": [256, 256, 3, 3],
            "features.7.1.bn2.bias": [512], "fc.weight": [7, 512], "fc.bias": [7], "alpha.0.weight": [1, 512],
            "alpha.0.bias": [1],
        ]
        for (name, shape) in expected { XCTAssertEqual(model.store.tensors[name]?.shape, shape, name) }
        XCTAssertNil(model.store.tensors["features.4.0.downsample.0.weight"])
        XCTAssertEqual(model.store.counters["features.7.0.downsample.1.num_batches_tracked"], 0)
        let widths = [64, 64, 128, 256, 512]
        let reference = MethodTests.count(MethodTests.resNet18ParameterShapes(widths: widths) + [[7, 512], [7], [1, 512], [1]])
        XCTAssertEqual(model.store.parameterCount, reference)
        XCTAssertEqual(model.store.parameterCount, 11_180_616)
    }

    func testFramesAreNormalisedWithImageNetStatistics() {
        let frames = Tensor(shape: [2, 3, 1, 2], data: [0, 1, 0.5, 0.25, 1, 0, 0.2, 0.4, 0.6, 0.8, 1, 0.1])
        let normalised = Tensor.normalisedChannels(frames, mean: SCNModel.imageNetMean, std: SCNModel.imageNetStd)
        for (index, value) in frames.data.enumerated() {
            let channel = (index / 2) % 3
            XCTAssertEqual(normalised.data[index], (value - SCNModel.imageNetMean[channel]) / SCNModel.imageNetStd[channel])
        }
    }

    func testRankRegularizationMatchesClosedForm() {
        let alpha = Tensor(shape: [5], data: [0.9, 0.2, 0.5, 0.7, 0.3], requiresGrad: true)
        // β = 0.6: M = 3, high {0.9, 0.7, 0.5}, low {0.2, 0.3}: 0.25 − 0.7 + 0.5 = 0.05.
        let loss = alpha.rankRegularization(fraction: 0.6, margin: 0.5)
        XCTAssertEqual(loss.item, 0.05, accuracy: 1e-6)
        loss.backward()
        let third: Float = -1.0 / 3
        XCTAssertEqual(alpha.grad!, [third, 0.5, third, third, 0.5])
        XCTAssertEqual(alpha.detached().rankRegularization(fraction: 0.6, margin: 0.4).item, 0)
        XCTAssertEqual(alpha.detached().rankRegularization(fraction: 0.1, margin: 0.5).item, 0, "M = 0: no high group")
    }

    func testRankRegularizationGradientMatchesFiniteDifferences() {
        // Values far apart: the step never changes the grouping.
        let alpha = Tensor(shape: [7], data: [0.81, 0.12, 0.55, 0.33, 0.91, 0.44, 0.27], requiresGrad: true)
        checkGradients([alpha], step: 1e-3) { t in t[0].rankRegularization(fraction: 0.7, margin: 0.6) }
    }

    func testRelabellingReplacesConfidentlyWrongLabels() {
        let logits = Tensor(shape: [3, 3], data: [3, 0, 0, 0.1, 0, 0.05, 0, 0, 5])
        // Row 0: p(0) ≫ p(label 1) → 0. Row 1: probabilities close → kept. Row 2: label already the best.
        XCTAssertEqual(SCNRelabelling.relabel(logits: logits, targets: [1, 2, 2], margin: 0.2), [0, 2, 2])
    }

    func testClipLogitsAreTheMeanOfImportanceWeightedFrameLogits() throws {
        let model = try SCNModel(configuration: MethodTests.tiny(.scn), seed: 1)
        let clips = MethodTests.clips(model.configuration, batch: 2, seed: 2)
        let output = try Autograd.withoutGradient { try model(clips, training: false) }
        XCTAssertEqual(output.logits.shape, [2, 7])
        XCTAssertEqual(output.importance?.shape, [4])
        XCTAssertTrue(output.importance!.data.allSatisfy { $0 > 0 && $0 < 1 })
        // One frame repeated: the clip's logits are that frame's α·fc(x).
        let frame = Tensor(shape: [1, 1, 3, 32, 32], data: Array(clips.data.prefix(3 * 32 * 32)))
        let repeated = Tensor.concatenate([frame, frame], dim: 1)
        let single = try Autograd.withoutGradient { try model(repeated, training: false) }
        XCTAssertEqual(single.importance!.data[0], single.importance!.data[1])
        let breakdown = try single.objective(method: .scn, targets: [3])
        XCTAssertEqual(breakdown.parts.map(\.name), ["ce", "rank"])
    }

    func testWholeModelGradients() throws {
        let model = try SCNModel(configuration: MethodTests.tiny(.scn), seed: 3)
        let clips = MethodTests.clips(model.configuration, batch: 2, seed: 4)
        // Importance weights far apart, so that the step does not reorder the rank groups (a kink).
        MethodTests.spread(model.store.tensors["alpha.0.weight"]!, by: 30)
        checkWholeModelGradients(model, names: ["features.0.weight", "features.5.0.downsample.0.weight", "features.7.1.conv2.weight",
                                                "fc.weight", "alpha.0.weight", "alpha.0.bias"],
                                 clips: clips, targets: [1, 4],
                                 methodLoss: MethodLossSettings(scn: SCNLossSettings(rankFraction: 0.5, rankMargin: 2)))
    }
}
