@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// Gradients of the model's parts and of the whole model against central finite differences.
final class ModelGradientTests: XCTestCase {
    /// A configuration small enough for finite differences over the whole model: 3 frames of 32×32.
    static let tiny = ModelConfiguration(
        frames: 3, imageSize: 32, widths: [4, 4, 8, 8, 8], reduction: 4,
        spatialTransformer: TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8),
        temporalTransformer: TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8))

    override func setUp() {
        Threading.setCount(2)
    }

    func testGlobalConvolutionAttentionBlock() {
        let store = ParameterStore()
        let builder = ParameterBuilder(store: store, seed: 1)
        let settings = AttentionSettings(kind: .gca, mapSize: 4, reduction: 4, frames: 4, classes: 7, active: true)
        let block = ResidualBlock(builder, in: 8, out: 8, stride: 1, attention: settings)
        let input = randomTensor([8, 8, 4, 4], seed: 2)
        // The aux head is part of the check: project both outputs.
        checkGradients([input] + store.parameters.filter { store.tensors["gc.0.weight"] === $0 || store.tensors["fc1.0.weight"] === $0
            || store.tensors["fc2.0.weight"] === $0 || store.tensors["AUX_fc.0.weight"] === $0 },
                       relativeTolerance: 2e-2, absoluteTolerance: 5e-3, skippingKinks: true) { t in
            let (output, aux) = block(t[0], training: true)
            return Tensor.concatenate([output.reshaped([-1]), aux!.reshaped([-1])], dim: 0)
        }
    }

    func testSqueezeExcitationBlock() {
        let store = ParameterStore()
        let settings = AttentionSettings(kind: .se, mapSize: 4, reduction: 4, frames: 2, classes: 7, active: true)
        let block = ResidualBlock(ParameterBuilder(store: store, seed: 3), in: 8, out: 8, stride: 1, attention: settings)
        let input = randomTensor([4, 8, 4, 4], seed: 4)
        checkGradients([input, store.tensors["fc1.0.weight"]!, store.tensors["fc2.0.weight"]!],
                       relativeTolerance: 2e-2, absoluteTolerance: 5e-3, skippingKinks: true) { t in
            block(t[0], training: true).output
        }
    }

    func testTransformerAttention() {
        let store = ParameterStore()
        let transformer = Transformer(ParameterBuilder(store: store, seed: 5), dimension: 8,
                                      shape: TransformerShape(depth: 2, heads: 2, headDimension: 4, hiddenDimension: 16))
        let tokens = randomTensor([2, 5, 8], seed: 6)
        checkGradients([tokens] + store.parameters) { t in transformer(t[0]) }
    }

    func testWholeModelGradients() throws {
        let model = try GCAIALModel(configuration: Self.tiny, seed: 7)
        var generator = SeededGenerator(seed: 8)
        let clips = Tensor(shape: [2, 3, 3, 32, 32], data: (0..<(2 * 3 * 3 * 32 * 32)).map { _ in generator.uniform() })
        let names = ["s_former.conv1.0.weight", "s_former.layer2.0.gc.0.weight", "s_former.layer3.0.fc1.0.weight",
                     "s_former.layer4.0.conv1.weight", "s_former.patch_embedding.1.weight", "s_former.pos_embedding_pos",
                     "s_former.temporal_transformer.layers.0.0.fn.fn.to_qkv.weight", "fc_f.weight"]
        let parameters = names.map { model.store.tensors[$0]! }
        // ReLU and max-pool kinks inside a deep float32 network make a few finite differences
        // straddle a kink; the step is small and the tolerance looser than for single operations.
        checkGradients(parameters, step: 2e-3, relativeTolerance: 5e-2, absoluteTolerance: 1e-2, samplesPerInput: 6, skippingKinks: true) { _ in
            let output = try! model(clips, training: true)
            return output.loss(targets: [1, 5]).total
        }
    }
}
