@testable import FerdModels
import FerdTensor
import XCTest

/// The model's parameters, names and shapes against the reference `state_dict` (muse1998/IAL-for-Facial-Expression-Recognition).
final class ModelStructureTests: XCTestCase {
    func testPaperModelHasTheReferenceParameterCount() throws {
        let model = try GCAIALModel(configuration: .paper)
        XCTAssertEqual(model.store.parameterCount, 19_083_527)
        let unused = model.store.names.filter { name in
            name == "s_former.bias" || name.hasSuffix(".bias1") || name.hasSuffix(".bias2") || name.hasSuffix(".glb.weight")
                || (name.hasPrefix("s_former.layer1.0.") && ["AUX_fc", "gc.0", "fc1.0", "fc2.0"].contains { name.contains($0) })
        }
        let unusedCount = unused.reduce(0) { $0 + model.store.tensors[$1]!.count }
        XCTAssertEqual(unusedCount, 146_752)
    }

    func testReferenceKeysAndShapes() throws {
        let model = try GCAIALModel(configuration: .paper)
        let expected: [String: [Int]] = [
            "s_former.bias": [1, 64, 1, 1],
            "s_former.pos_embedding_pos": [1, 16, 256],
            "s_former.pos_embedding": [1, 16, 4096],
            "s_former.conv1.0.weight": [64, 3, 3, 3],
            "s_former.conv1.1.running_var": [64],
            "s_former.conv1.3.weight": [64, 64, 3, 3],
            "s_former.layer1.0.gc.0.weight": [64, 1, 28, 28],
            "s_former.layer2.0.gc.0.weight": [128, 1, 14, 14],
            "s_former.layer3.0.gc.0.weight": [256, 1, 7, 7],
            "s_former.layer2.0.fc1.0.weight": [8, 128, 1, 1],
            "s_former.layer2.0.fc2.0.weight": [128, 8, 1, 1],
            "s_former.layer2.0.AUX_fc.0.weight": [256, 128],
            "s_former.layer2.0.AUX_fc.1.weight": [7, 256],
            "s_former.layer2.0.glb.weight": [128, 128, 1, 1],
            "s_former.layer2.0.downsample.0.weight": [128, 64, 1, 1],
            "s_former.layer4.0.downsample.1.weight": [256],
            "s_former.layer4.2.conv2.weight": [256, 256, 3, 3],
            "s_former.patch_embedding.0.weight": [256, 256, 3, 3],
            "s_former.pos_transformer.layers.1.0.fn.fn.to_qkv.weight": [384, 256],
            "s_former.pos_transformer.layers.0.1.fn.fn.net.0.weight": [256, 256],
            "s_former.temporal_transformer.layers.1.0.fn.fn.to_out.0.bias": [4096],
            "s_former.temporal_transformer.layers.0.1.fn.fn.net.3.weight": [4096, 512],
            "s_former.temporal_transformer.layers.0.0.fn.norm.weight": [4096],
            "fc_f.weight": [7, 4096],
            "fc_f.bias": [7],
        ]
        for (name, shape) in expected {
            XCTAssertEqual(model.store.tensors[name]?.shape, shape, name)
        }
        XCTAssertNil(model.store.tensors["s_former.layer4.0.gc.0.weight"])
        XCTAssertNil(model.store.tensors["s_former.patch_embedding.0.bias"])
        XCTAssertEqual(model.store.counters["s_former.bn1.num_batches_tracked"], 0)
    }

    func testInitialisationFollowsTheReference() throws {
        let model = try GCAIALModel(configuration: .paper, seed: 3)
        func std(_ name: String) -> Float {
            let values = model.store.tensors[name]!.data
            let mean = values.reduce(0, +) / Float(values.count)
            return (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(values.count)).squareRoot()
        }
        XCTAssertEqual(std("s_former.layer4.2.conv2.weight"), (2 / Float(256 * 9)).squareRoot(), accuracy: 1e-3)
        XCTAssertEqual(std("s_former.layer3.0.gc.0.weight"), (2 / Float(256 * 49)).squareRoot(), accuracy: 2e-3)
        XCTAssertEqual(std("s_former.pos_embedding"), 1, accuracy: 0.02)
        let bound = 1 / Float(4096).squareRoot()
        let classifier = model.store.tensors["fc_f.weight"]!.data
        XCTAssertLessThanOrEqual(classifier.map(abs).max()!, bound)
        XCTAssertGreaterThan(classifier.map(abs).max()!, bound * 0.9)
        XCTAssertEqual(model.store.tensors["s_former.bn1.weight"]!.data, [Float](repeating: 1, count: 64))
    }

    func testConfigurationErrorsNameTheField() {
        var configuration = ModelConfiguration.small
        configuration.reduction = 5
        XCTAssertThrowsError(try GCAIALModel(configuration: configuration)) { error in
            XCTAssertTrue("\(error)".contains("reduction"), "\(error)")
        }
    }

    func testWrongInputShapeIsAnError() throws {
        let model = try GCAIALModel(configuration: .small)
        XCTAssertThrowsError(try model(Tensor(zeros: [1, 4, 3, 56, 56]), training: false)) { error in
            XCTAssertTrue("\(error)".contains("(B, 8, 3, 56, 56)"), "\(error)")
        }
    }
}
