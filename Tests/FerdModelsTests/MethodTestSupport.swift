@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// Tiny configurations and inputs shared by the method tests.
enum MethodTests {
    /// 2 frames of 32×32 with widths 4/4/8/8/8 (layer3's map is 2×2, layer4's 1×1).
    static func tiny(_ method: ModelMethod) -> ModelConfiguration {
        let shape = TransformerShape(depth: 1, heads: 2, headDimension: 4, hiddenDimension: 8)
        return ModelConfiguration(method: method, frames: 2, imageSize: 32, widths: [4, 4, 8, 8, 8],
                                  spatialTransformer: shape, temporalTransformer: shape, dropPath: 0)
    }

    /// Clips (B, T, 3, S, S) of uniform values in [0, 1].
    static func clips(_ configuration: ModelConfiguration, batch: Int, seed: UInt64) -> Tensor {
        var generator = SeededGenerator(seed: seed)
        let shape = [batch, configuration.frames, 3, configuration.imageSize, configuration.imageSize]
        return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in generator.uniform() })
    }

    /// Multiplies a parameter's values by `factor` in place (a better-conditioned point for a gradient check).
    static func spread(_ parameter: Tensor, by factor: Float) {
        parameter.data = parameter.data.map { $0 * factor }
    }

    /// The number of values of the shapes.
    static func count(_ shapes: [[Int]]) -> Int { shapes.reduce(0) { $0 + $1.reduce(1, *) } }

    /// The shapes of a torchvision ResNet-18's parameters (no fc, no buffers) with widths
    /// [stem, layer1…layer4] up to layer `last`, from the paper's layer list.
    static func resNet18ParameterShapes(widths w: [Int], through last: Int = 4) -> [[Int]] {
        var shapes: [[Int]] = [[w[0], 3, 7, 7], [w[0]], [w[0]]]
        for layer in 1...last {
            let input = w[layer - 1], output = w[layer]
            shapes += [[output, input, 3, 3], [output], [output], [output, output, 3, 3], [output], [output]]
            if layer > 1 || input != output { shapes += [[output, input, 1, 1], [output], [output]] }
            shapes += [[output, output, 3, 3], [output], [output], [output, output, 3, 3], [output], [output]]
        }
        return shapes
    }

    /// The shapes of a vit-pytorch pre-norm transformer's parameters (qkv without bias).
    static func transformerParameterShapes(dimension d: Int, _ shape: TransformerShape) -> [[Int]] {
        let inner = shape.heads * shape.headDimension, hidden = shape.hiddenDimension
        return (0..<shape.depth).flatMap { _ in
            [[d], [d], [3 * inner, d], [d, inner], [d], [d], [d], [hidden, d], [hidden], [d, hidden], [d]]
        }
    }
}

extension XCTestCase {
    /// Checks the gradients of `names` of a model's whole training objective against finite differences.
    func checkWholeModelGradients(_ model: any ExpressionModel, names: [String], clips: Tensor, targets: [Int],
                                  methodLoss: MethodLossSettings = .defaults,
                                  file: StaticString = #filePath, line: UInt = #line) {
        for name in names { XCTAssertNotNil(model.store.tensors[name], name, file: file, line: line) }
        let parameters = names.compactMap { model.store.tensors[$0] }
        // The per-frame ResNet-18 has thousands of ReLUs downstream of its first layers: a step of 1e-4
        // crosses few of their kinks, and the loss is a scalar near 2, so float32 rounding stays ~1e-3.
        checkGradients(parameters, step: 1e-4, relativeTolerance: 5e-2, absoluteTolerance: 1e-2, samplesPerInput: 8,
                       skippingKinks: true, file: file, line: line) { _ in
            let output = try! model(clips, training: true)
            return try! output.objective(method: model.configuration.method, targets: targets, methodLoss: methodLoss).total
        }
    }
}
