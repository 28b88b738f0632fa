@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// Former-DFER (Zhao and Liu, ACM MM 2021): every key and shape of the authors' model, its parameter
/// count from the paper's layer list, and the whole network's gradient.
final class FormerDFERTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    /// The reference `state_dict`'s parameters: name → shape, built from the layer list of the paper and
    /// the authors' modules (ResNet-18, CS-Former 1×(8 heads of 32, MLP 512), T-Former 3×(8 heads of 64, MLP 1024)).
    private func referenceShapes() -> [String: [Int]] {
        var shapes: [String: [Int]] = ["s_former.conv1.weight": [64, 3, 7, 7], "s_former.bn1.weight": [64], "s_former.bn1.bias": [64]]
        let widths = [64, 64, 128, 256, 512]
        for layer in 1...4 {
            for block in 0..<2 {
                let name = "s_former.layer\(layer).\(block).", input = block == 0 ? widths[layer - 1] : widths[layer], output = widths[layer]
                shapes[name + "conv1.weight"] = [output, input, 3, 3]
                shapes[name + "conv2.weight"] = [output, output, 3, 3]
                for norm in ["bn1", "bn2"] { shapes[name + norm + ".weight"] = [output]; shapes[name + norm + ".bias"] = [output] }
                if block == 0 && layer > 1 {
                    shapes[name + "downsample.0.weight"] = [output, input, 1, 1]
                    shapes[name + "downsample.1.weight"] = [output]
                    shapes[name + "downsample.1.bias"] = [output]
                }
            }
        }
        func transformer(_ prefix: String, depth: Int, dimension d: Int, inner: Int, hidden: Int) {
            for i in 0..<depth {
                let a = "\(prefix).layers.\(i).0.fn.", f = "\(prefix).layers.\(i).1.fn."
                shapes[a + "norm.weight"] = [d]; shapes[a + "norm.bias"] = [d]
                shapes[a + "fn.to_qkv.weight"] = [3 * inner, d]
                shapes[a + "fn.to_out.0.weight"] = [d, inner]; shapes[a + "fn.to_out.0.bias"] = [d]
                shapes[f + "norm.weight"] = [d]; shapes[f + "norm.bias"] = [d]
                shapes[f + "fn.net.0.weight"] = [hidden, d]; shapes[f + "fn.net.0.bias"] = [hidden]
                shapes[f + "fn.net.3.weight"] = [d, hidden]; shapes[f + "fn.net.3.bias"] = [d]
            }
        }
        shapes["s_former.pos_embedding"] = [1, 49, 256]
        transformer("s_former.spatial_transformer", depth: 1, dimension: 256, inner: 256, hidden: 512)
        shapes["t_former.cls_token"] = [1, 1, 512]
        shapes["t_former.pos_embedding"] = [1, 17, 512]
        transformer("t_former.spatial_transformer", depth: 3, dimension: 512, inner: 512, hidden: 1024)
        shapes["fc.weight"] = [7, 512]
        shapes["fc.bias"] = [7]
        return shapes
    }

    func testPaperPresetHasExactlyTheReferenceParametersAndCount() throws {
        let model = try ExpressionModels.make(ModelConfiguration.preset(named: "paper", method: .formerDFER)!)
        XCTAssertTrue(model is FormerDFERModel)
        let reference = referenceShapes()
        let parameters = model.store.names.filter { model.store.roles[$0] == .parameter }
        XCTAssertEqual(Set(parameters), Set(reference.keys))
        for (name, shape) in reference { XCTAssertEqual(model.store.tensors[name]?.shape, shape, name) }
        let count = reference.values.reduce(0) { $0 + $1.reduce(1, *) }
        XCTAssertEqual(model.store.parameterCount, count)
        XCTAssertEqual(count, 18_031_943)
        // Buffers: running statistics and counters of the 20 batch norms.
        let buffers = model.store.names.filter { model.store.roles[$0] == .buffer }
        XCTAssertEqual(buffers.count, 40)
        XCTAssertEqual(model.store.counters.count, 20)
        XCTAssertNotNil(model.store.counters["s_former.layer4.0.downsample.1.num_batches_tracked"])
    }

    func testClassTokenConcatenationGradients() {
        // The class token repeated over the batch and put before the frame vectors: its gradient sums the copies.
        let token = randomTensor([1, 1, 4], seed: 5)
        let frames = randomTensor([3, 2, 4], seed: 6)
        checkGradients([token, frames]) { t in Tensor.concatenate([t[0].broadcast(to: [3, 1, 4]), t[1]], dim: 1) }
        let sequence = Tensor.concatenate([token.broadcast(to: [3, 1, 4]), frames], dim: 1)
        XCTAssertEqual(sequence.shape, [3, 3, 4])
        XCTAssertEqual(Array(sequence.data[12..<16]), token.data)
    }

    func testClassTokenOutputIsClassified() throws {
        let model = try FormerDFERModel(configuration: MethodTests.tiny(.formerDFER), seed: 1)
        let output = try Autograd.withoutGradient { try model(MethodTests.clips(model.configuration, batch: 3, seed: 2), training: false) }
        XCTAssertEqual(output.logits.shape, [3, 7])
        XCTAssertEqual(try output.objective(method: .formerDFER, targets: [0, 1, 2]).parts.map(\.name), ["ce"])
    }

    func testWholeModelGradients() throws {
        let model = try FormerDFERModel(configuration: MethodTests.tiny(.formerDFER), seed: 3)
        checkWholeModelGradients(model, names: ["s_former.conv1.weight", "s_former.layer2.0.downsample.0.weight", "s_former.pos_embedding",
                                                "s_former.spatial_transformer.layers.0.0.fn.fn.to_qkv.weight", "s_former.layer4.1.conv2.weight",
                                                "t_former.cls_token", "t_former.pos_embedding",
                                                "t_former.spatial_transformer.layers.0.1.fn.fn.net.0.weight", "fc.weight"],
                                 clips: MethodTests.clips(model.configuration, batch: 2, seed: 4), targets: [2, 5])
    }
}
