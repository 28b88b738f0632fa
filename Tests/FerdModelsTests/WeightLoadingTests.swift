@testable import FerdModels
import FerdTensor
import XCTest

/// Starting a model from a weights file: matching keys are copied, the rest reported.
final class WeightLoadingTests: XCTestCase {
    func testMatchingKeysAreCopiedAndTheRestReported() throws {
        let model = try SCNModel(configuration: MethodTests.tiny(.scn), seed: 1)
        let file = SafetensorsFile(tensors: [
            "module.fc.bias": StoredTensor(shape: [7], values: [Float](repeating: 0.5, count: 7)),
            "fc.weight": StoredTensor(shape: [3, 8], values: [Float](repeating: 0, count: 24)),
            "extra.weight": StoredTensor(shape: [1], values: [1]),
        ], integerTensors: ["features.1.num_batches_tracked": StoredIntegerTensor(shape: [], values: [42])], metadata: [:])
        let before = model.store.tensors["fc.weight"]!.data
        let report = model.store.loadMatching(file)
        XCTAssertEqual(report.loaded, ["features.1.num_batches_tracked", "fc.bias"])
        XCTAssertEqual(report.unmatchedInFile, ["extra.weight"])
        XCTAssertEqual(report.shapeMismatches, ["fc.weight: file [3, 8], model [7, 8]"])
        XCTAssertEqual(report.missingInModel.count, model.store.names.count - 3)
        XCTAssertEqual(model.store.tensors["fc.bias"]!.data, [Float](repeating: 0.5, count: 7))
        XCTAssertEqual(model.store.tensors["fc.weight"]!.data, before)
        XCTAssertEqual(model.store.counters["features.1.num_batches_tracked"], 42)
        XCTAssertTrue(report.summary().contains("unmatched in the file: 1 (extra.weight)"))
    }

    func testTorchvisionResNetKeysMapToEachMethodsBackbone() throws {
        XCTAssertEqual(ExpressionModels.backboneName(ofTorchvisionKey: "conv1.weight", method: .scn), "features.0.weight")
        XCTAssertEqual(ExpressionModels.backboneName(ofTorchvisionKey: "layer3.1.bn2.bias", method: .scn), "features.6.1.bn2.bias")
        XCTAssertEqual(ExpressionModels.backboneName(ofTorchvisionKey: "bn1.running_mean", method: .formerDFER), "s_former.bn1.running_mean")
        XCTAssertEqual(ExpressionModels.backboneName(ofTorchvisionKey: "layer2.0.downsample.0.weight", method: .stt),
                       "backbone.layer2.0.downsample.0.weight")
        XCTAssertNil(ExpressionModels.backboneName(ofTorchvisionKey: "layer4.0.conv1.weight", method: .stt))
        XCTAssertEqual(ExpressionModels.backboneName(ofTorchvisionKey: "layer4.0.conv1.weight", method: .ran), "layer4.0.conv1.weight")
        XCTAssertNil(ExpressionModels.backboneName(ofTorchvisionKey: "fc.weight", method: .scn))
        XCTAssertNil(ExpressionModels.backboneName(ofTorchvisionKey: "conv1.weight", method: .gcaIAL))

        // A torchvision-named ResNet (here RAN's own backbone) starts SCN's features.
        let source = try RANModel(configuration: MethodTests.tiny(.ran), seed: 2)
        let resnet = source.store.stateDictionary()
        let target = try SCNModel(configuration: MethodTests.tiny(.scn), seed: 3)
        let report = ExpressionModels.initialise(target, from: resnet)
        XCTAssertEqual(target.store.tensors["features.7.1.conv2.weight"]!.data, source.store.tensors["layer4.1.conv2.weight"]!.data)
        XCTAssertEqual(target.store.tensors["features.0.weight"]!.data, source.store.tensors["conv1.weight"]!.data)
        XCTAssertEqual(Set(report.unmatchedInFile), ["beta.0.weight", "beta.0.bias"])
        XCTAssertEqual(report.shapeMismatches.count, 1, "fc.weight (7, 16) vs (7, 8)")
        XCTAssertEqual(report.missingInModel, [])
    }

    func testCheckpointsWithoutMetadataAreRecognisedByTheirKeys() throws {
        for method in [ModelMethod.scn, .ran, .stt, .formerDFER] {
            var configuration = ModelConfiguration.preset(named: "small", method: method)!
            configuration.classes = 8
            let model = try ExpressionModels.make(configuration, seed: 4)
            let loaded = try ExpressionModels.load(model.store.stateDictionary())
            XCTAssertEqual(loaded.configuration, configuration, method.rawValue)
        }
    }
}
