@testable import FerdModels
import FerdTensor
import XCTest

/// Saving and loading model state as safetensors with the reference key names.
final class CheckpointTests: XCTestCase {
    func testRoundTripRestoresEveryTensorAndCounter() throws {
        let original = try GCAIALModel(configuration: .small, seed: 1)
        let clips = Tensor(shape: [1, 8, 3, 56, 56], data: (0..<(8 * 3 * 56 * 56)).map { Float($0 % 251) / 251 })
        _ = try original(clips, training: true)
        let bytes = try original.store.stateDictionary().encoded()
        let restored = try GCAIALModel(configuration: .small, seed: 2)
        try restored.store.load(SafetensorsFile.decode(bytes))
        for name in original.store.names {
            XCTAssertEqual(original.store.tensors[name]?.data, restored.store.tensors[name]?.data, name)
            XCTAssertEqual(original.store.counters[name], restored.store.counters[name], name)
        }
        XCTAssertEqual(restored.store.counters["s_former.bn1.num_batches_tracked"], 1)
        let a = try Autograd.withoutGradient { try original(clips, training: false).logits.data }
        let b = try Autograd.withoutGradient { try restored(clips, training: false).logits.data }
        XCTAssertEqual(a, b)
    }

    func testDataParallelPrefixIsStripped() throws {
        let model = try GCAIALModel(configuration: .small, seed: 1)
        var state = model.store.stateDictionary()
        state.tensors = Dictionary(uniqueKeysWithValues: state.tensors.map { ("module." + $0.key, $0.value) })
        state.integerTensors = Dictionary(uniqueKeysWithValues: state.integerTensors.map { ("module." + $0.key, $0.value) })
        let other = try GCAIALModel(configuration: .small, seed: 9)
        try other.store.load(state)
        XCTAssertEqual(other.store.tensors["fc_f.weight"]!.data, model.store.tensors["fc_f.weight"]!.data)
    }

    func testUnknownMissingAndMisshapenKeysAreListed() throws {
        let model = try GCAIALModel(configuration: .small, seed: 1)
        var state = model.store.stateDictionary()
        state.tensors["s_former.extra.weight"] = StoredTensor(shape: [1], values: [0])
        state.tensors["fc_f.bias"] = nil
        state.tensors["fc_f.weight"] = StoredTensor(shape: [7, 3], values: [Float](repeating: 0, count: 21))
        let before = model.store.tensors["s_former.conv1.0.weight"]!.data
        XCTAssertThrowsError(try model.store.load(state)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("unknown keys: s_former.extra.weight"), text)
            XCTAssertTrue(text.contains("missing keys: fc_f.bias"), text)
            XCTAssertTrue(text.contains("fc_f.weight has shape [7, 3]"), text)
        }
        XCTAssertEqual(model.store.tensors["s_former.conv1.0.weight"]!.data, before, "a failed load changes nothing")
    }

    func testPaperAndSmallCheckpointsDoNotMix() throws {
        let small = try GCAIALModel(configuration: .small)
        var paperShaped = ModelConfiguration.small
        paperShaped.attention = .se
        let other = try GCAIALModel(configuration: paperShaped)
        XCTAssertNoThrow(try other.store.load(small.store.stateDictionary()), "attention kind does not change the keys")
        let paper = try GCAIALModel(configuration: .paper)
        XCTAssertThrowsError(try paper.store.load(small.store.stateDictionary()))
    }
}
