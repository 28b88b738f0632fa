@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// STT as ferd reconstructs it (Ma, Sun, Li, 2022): keys and shapes, the joint variant, drop-path, the
/// compact softmax cross-entropy and the whole network's gradient.
final class STTTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    func testPaperPresetKeysAndShapes() throws {
        let model = try ExpressionModels.make(ModelConfiguration.preset(named: "paper", method: .stt)!)
        XCTAssertTrue(model is STTModel)
        let expected: [String: [Int]] = [
            "backbone.conv1.weight": [64, 3, 7, 7], "backbone.bn1.running_var": [64], "backbone.layer3.1.conv2.weight": [256, 256, 3, 3],
            "tokenizer.weight": [512, 256, 1, 1], "tokenizer.bias": [512], "cls_token": [1, 1, 512], "spatial_pos": [1, 49, 512],
            "temporal_pos": [1, 17, 512], "blocks.3.spatial_norm.weight": [512], "blocks.3.spatial_attn.qkv.weight": [1536, 512],
            "blocks.3.spatial_attn.qkv.bias": [1536], "blocks.3.spatial_attn.proj.weight": [512, 512],
            "blocks.0.temporal_norm.bias": [512], "blocks.0.temporal_attn.qkv.weight": [1536, 512], "blocks.0.temporal_attn.proj.bias": [512],
            "blocks.2.ffn_norm.weight": [512], "blocks.2.ffn.fc1.weight": [2048, 512], "blocks.2.ffn.fc1.bias": [2048],
            "blocks.2.ffn.fc2.weight": [512, 2048], "norm.weight": [512], "norm.bias": [512], "head.weight": [7, 512], "head.bias": [7],
        ]
        for (name, shape) in expected { XCTAssertEqual(model.store.tensors[name]?.shape, shape, name) }
        XCTAssertFalse(model.store.names.contains { $0.hasPrefix("backbone.layer4") || $0.hasPrefix("blocks.4.") })
        let attention = 2 * 512 + 1536 * 512 + 1536 + 512 * 512 + 512
        let feedForward = 2 * 512 + 2048 * 512 + 2048 + 512 * 2048 + 512
        let rest = 512 * 256 + 512 + 512 + 49 * 512 + 17 * 512 + 2 * 512 + 7 * 512 + 7
        let backbone = MethodTests.count(MethodTests.resNet18ParameterShapes(widths: [64, 64, 128, 256, 512], through: 3))
        XCTAssertEqual(model.store.parameterCount, backbone + 4 * (2 * attention + feedForward) + rest)
    }

    func testJointAttentionHasNoTemporalWeights() throws {
        var configuration = MethodTests.tiny(.stt)
        configuration.sttAttention = .joint
        let model = try STTModel(configuration: configuration, seed: 1)
        XCTAssertFalse(model.store.names.contains { $0.contains("temporal_attn") || $0.contains("temporal_norm") })
        let output = try Autograd.withoutGradient { try model(MethodTests.clips(configuration, batch: 2, seed: 2), training: false) }
        XCTAssertEqual(output.logits.shape, [2, 7])
    }

    func testDropPathRisesLinearlyAndActsInTrainingOnly() throws {
        var configuration = MethodTests.tiny(.stt)
        configuration.temporalTransformer.depth = 3
        configuration.dropPath = 0.5
        let model = try STTModel(configuration: configuration, seed: 3)
        XCTAssertEqual(model.blocks.map(\.dropRate), [0, 0.25, 0.5])
        let clips = MethodTests.clips(configuration, batch: 4, seed: 4)
        let evaluation = try Autograd.withoutGradient { (try model(clips, training: false).logits.data, try model(clips, training: false).logits.data) }
        XCTAssertEqual(evaluation.0, evaluation.1)
        let training = try Autograd.withoutGradient { (try model(clips, training: true).logits.data, try model(clips, training: true).logits.data) }
        XCTAssertNotEqual(training.0, training.1, "different drop-path masks")
        configuration.dropPath = 0
        let plain = try STTModel(configuration: configuration, seed: 3)
        let repeated = try Autograd.withoutGradient { (try plain(clips, training: true).logits.data, try plain(clips, training: true).logits.data) }
        XCTAssertEqual(repeated.0, repeated.1)
    }

    func testCompactnessTermMatchesClosedForm() {
        let logits = Tensor(shape: [1, 4], data: [2.0, 0.5, -0.3, 1.1], requiresGrad: true)
        // Non-target logits of target 0: [0.5, −0.3, 1.1] → q; u = 1/3.
        let z: [Double] = [0.5, -0.3, 1.1]
        let total = z.map { exp($0) }.reduce(0, +)
        let q = z.map { exp($0) / total }
        let klQU = q.map { $0 * log($0 * 3) }.reduce(0, +)
        let klUQ = q.map { (1.0 / 3) * log((1.0 / 3) / $0) }.reduce(0, +)
        let loss = logits.complementUniformity(targets: [0])
        XCTAssertEqual(Double(loss.item), 0.5 * (klQU + klUQ), accuracy: 1e-6)
        loss.backward()
        XCTAssertEqual(logits.grad![0], 0)
        let uniform = Tensor(shape: [1, 4], data: [3, 1, 1, 1])
        XCTAssertEqual(uniform.complementUniformity(targets: [0]).item, 0, accuracy: 1e-7)
    }

    func testCompactnessGradientMatchesFiniteDifferences() {
        let logits = randomTensor([3, 7], seed: 5)
        checkGradients([logits]) { t in t[0].complementUniformity(targets: [2, 0, 6]) }
        let breakdown = try! ModelOutput(logits: logits).objective(method: .stt, targets: [2, 0, 6],
                                                                  methodLoss: MethodLossSettings(stt: STTLossSettings(compactWeight: 0.5)))
        XCTAssertEqual(breakdown.parts.map(\.name), ["ce", "compact"])
        XCTAssertEqual(breakdown.total.item, breakdown.crossEntropy + 0.5 * breakdown["compact"]!, accuracy: 1e-5)
    }

    func testWholeModelGradients() throws {
        for attention in STTAttention.allCases {
            var configuration = MethodTests.tiny(.stt)
            configuration.sttAttention = attention
            let model = try STTModel(configuration: configuration, seed: 6)
            var names = ["backbone.conv1.weight", "backbone.layer3.1.conv1.weight", "tokenizer.weight", "cls_token", "spatial_pos",
                         "temporal_pos", "blocks.0.spatial_attn.qkv.weight", "blocks.0.ffn.fc1.weight", "norm.weight", "head.weight"]
            if attention == .spaceTime { names += ["blocks.0.temporal_attn.qkv.weight", "blocks.0.temporal_norm.weight"] }
            checkWholeModelGradients(model, names: names, clips: MethodTests.clips(configuration, batch: 2, seed: 7), targets: [4, 0])
        }
    }
}
