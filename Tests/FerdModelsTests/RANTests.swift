@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// RAN (Wang et al., IEEE TIP 2020): the fixed crops and their bilinear resize, the authors' keys, the
/// attention weights, the region-biased loss and the whole network's gradient.
final class RANTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    func testCropBoxesFollowTheContractRule() {
        let crops = RegionCrops(scheme: .fixed, size: 112)
        XCTAssertEqual(crops.count, 8)
        // [.05, .05, .95, .95] of 112: columns and rows [5, 107); [.125, .25, .875, 1]: columns [14, 98), rows [28, 112).
        XCTAssertEqual(crops.axes[3].columns.lower.first, 5)
        XCTAssertEqual(crops.axes[3].columns.upper.last, 106)
        XCTAssertEqual(crops.axes[0].columns.lower.first, 14)
        XCTAssertEqual(crops.axes[0].columns.upper.last, 97)
        XCTAssertEqual(crops.axes[0].rows.lower.first, 28)
        XCTAssertEqual(crops.axes[0].rows.upper.last, 111)
    }

    func testBilinearResizeMatchesHandComputedValues() {
        // 6 source pixels to 8 (align_corners=False): source = max(0.75·(i + ½) − ½, 0), the last clamped.
        let axis = BilinearAxis(start: 1, length: 6, size: 8)
        XCTAssertEqual(axis.lower, [1, 1, 2, 3, 3, 4, 5, 6])
        XCTAssertEqual(axis.upper, [2, 2, 3, 4, 4, 5, 6, 6])
        XCTAssertEqual(axis.weights, [0, 0.625, 0.375, 0.125, 0.875, 0.625, 0.375, 0.125])
        // Crop 0 of an 8×8 frame (columns [1, 7), rows [2, 8)) of the plane v = 10·row + column: bilinear
        // resizing reproduces a linear plane at the source positions.
        let frame = Tensor(shape: [1, 1, 8, 8], data: (0..<64).map { Float(10 * ($0 / 8) + $0 % 8) })
        let region = RegionCrops(scheme: .fixed, size: 8).region(0, of: frame)
        let positions: [Float] = [0, 0.625, 1.375, 2.125, 2.875, 3.625, 4.375, 5]
        for oy in 0..<8 {
            for ox in 0..<8 {
                XCTAssertEqual(region.data[oy * 8 + ox], 10 * (2 + positions[oy]) + 1 + positions[ox], accuracy: 1e-4, "(\(oy), \(ox))")
            }
        }
        // Down-sampling 2 → 1: the mean of the two pixels.
        XCTAssertEqual(BilinearAxis(start: 0, length: 2, size: 1).weights, [0.5])
        XCTAssertEqual(RegionCrops(scheme: .fixed, size: 8).region(7, of: frame).data, frame.data, "the whole frame last")
    }

    func testPaperPresetHasTheAuthorsKeys() throws {
        let model = try ExpressionModels.make(ModelConfiguration.preset(named: "paper", method: .ran)!)
        XCTAssertTrue(model is RANModel)
        let expected: [String: [Int]] = [
            "conv1.weight": [64, 3, 7, 7], "bn1.weight": [64], "bn1.running_mean": [64], "layer1.0.conv1.weight": [64, 64, 3, 3],
            "layer2.0.downsample.0.weight": [128, 64, 1, 1], "layer3.1.bn2.running_var": [256], "layer4.1.conv2.weight": [512, 512, 3, 3],
            "alpha.0.weight": [1, 512], "alpha.0.bias": [1], "beta.0.weight": [1, 1024], "beta.0.bias": [1],
            "fc.weight": [7, 1024], "fc.bias": [7],
        ]
        for (name, shape) in expected { XCTAssertEqual(model.store.tensors[name]?.shape, shape, name) }
        let heads = MethodTests.count([[1, 512], [1], [1, 1024], [1], [7, 1024], [7]])
        XCTAssertEqual(model.store.parameterCount,
                       MethodTests.count(MethodTests.resNet18ParameterShapes(widths: [64, 64, 128, 256, 512])) + heads)
        XCTAssertEqual(model.store.names.filter { !$0.hasPrefix("conv1") && !$0.hasPrefix("bn1") && !$0.hasPrefix("layer") },
                       ["alpha.0.weight", "alpha.0.bias", "beta.0.weight", "beta.0.bias", "fc.weight", "fc.bias"])
    }

    func testAttentionWeightsAreSoftmaxedOverRegions() throws {
        let model = try RANModel(configuration: MethodTests.tiny(.ran), seed: 1)
        let output = try Autograd.withoutGradient { try model(MethodTests.clips(model.configuration, batch: 2, seed: 2), training: false) }
        XCTAssertEqual(output.logits.shape, [2, 7])
        let mu = output.regionAttention!
        XCTAssertEqual(mu.shape, [4, 8])
        for frame in 0..<4 { XCTAssertEqual(mu.data[(frame * 8)..<(frame * 8 + 8)].reduce(0, +), 1, accuracy: 1e-5) }
        // σ(·) ∈ (0, 1) before the softmax: every weight lies in (e⁰/(e⁰ + 7e¹), e¹/(e¹ + 7e⁰)).
        XCTAssertTrue(mu.data.allSatisfy { $0 > 1 / (1 + 7 * Float(M_E)) && $0 < Float(M_E) / (Float(M_E) + 7) })
        XCTAssertEqual(try output.objective(method: .ran, targets: [0, 6]).parts.map(\.name), ["ce", "region"])
    }

    func testRegionBiasedLossMatchesClosedForm() {
        let mu = Tensor(shape: [2, 3], data: [0.30, 0.32, 0.38, 0.50, 0.20, 0.30], requiresGrad: true)
        // Frame 0: best crop 0.32 vs whole 0.38 → 0.02 + 0.06 = 0.08. Frame 1: 0.50 − 0.30 > 0.02 → 0.
        let loss = mu.regionBiasedLoss(margin: 0.02)
        XCTAssertEqual(loss.item, 0.04, accuracy: 1e-6)
        loss.backward()
        XCTAssertEqual(mu.grad!, [0, -0.5, 0.5, 0, 0, 0])
    }

    func testRegionBiasedLossGradientMatchesFiniteDifferences() {
        let mu = Tensor(shape: [3, 4], data: [0.1, 0.3, 0.2, 0.4, 0.35, 0.05, 0.15, 0.45, 0.2, 0.1, 0.6, 0.1], requiresGrad: true)
        checkGradients([mu], step: 1e-3) { t in t[0].regionBiasedLoss(margin: 0.3) }
    }

    func testWholeModelGradients() throws {
        let model = try RANModel(configuration: MethodTests.tiny(.ran), seed: 3)
        // Attention weights far apart, so that the step does not change the best crop (a kink).
        MethodTests.spread(model.store.tensors["alpha.0.weight"]!, by: 30)
        checkWholeModelGradients(model, names: ["conv1.weight", "layer3.0.downsample.0.weight", "layer4.1.conv2.weight",
                                                "alpha.0.weight", "alpha.0.bias", "beta.0.weight", "fc.weight"],
                                 clips: MethodTests.clips(model.configuration, batch: 2, seed: 4), targets: [3, 1],
                                 methodLoss: MethodLossSettings(ran: RANLossSettings(margin: 0.5)))
    }

    func testRecomputedRegionsGiveTheSameLossGradientsAndRunningStatistics() throws {
        var configuration = MethodTests.tiny(.ran)
        let clips = MethodTests.clips(configuration, batch: 2, seed: 5)
        let settings = MethodLossSettings(ran: RANLossSettings(margin: 0.5))
        func step(recompute: Bool) throws -> (loss: Float, state: [String: [Float]], counters: [String: Int64]) {
            configuration.ranRecompute = recompute
            let model = try RANModel(configuration: configuration, seed: 6)
            let loss = try model(clips, training: true).objective(method: .ran, targets: [3, 1], methodLoss: settings).total
            loss.backward()
            var state: [String: [Float]] = [:]
            for (name, tensor) in model.store.tensors {
                state[name] = tensor.data
                if let grad = tensor.grad { state[name + ".grad"] = grad }
            }
            return (loss.item, state, model.store.counters)
        }
        let plain = try step(recompute: false), recomputed = try step(recompute: true)
        XCTAssertEqual(recomputed.loss, plain.loss)
        XCTAssertEqual(recomputed.counters, plain.counters, "num_batches_tracked counts the first run only")
        XCTAssertEqual(plain.counters["bn1.num_batches_tracked"], 8, "one batch per region")
        XCTAssertEqual(Set(recomputed.state.keys), Set(plain.state.keys))
        XCTAssertTrue(plain.state.keys.contains("layer1.0.conv1.weight.grad") && plain.state.keys.contains("bn1.running_mean"))
        for (name, expected) in plain.state {
            for (a, b) in zip(recomputed.state[name]!, expected) {
                XCTAssertEqual(a, b, accuracy: 1e-6 * max(1, abs(b)), name)
            }
        }
    }
}
