@testable import FerdModels
import FerdTensor
import FerdTestSupport
import XCTest

/// The IAL paper's attention ablation as a grid: every attention kind and the auxiliary-head switch keep the
/// state dict; the new GCA variants have correct gradients.
final class GCAAblationTests: XCTestCase {
    override func setUp() { Threading.setCount(2) }

    func testEveryKindAndSwitchKeepsTheStateDict() throws {
        let reference = try GCAIALModel(configuration: ModelGradientTests.tiny, seed: 1)
        let clips = MethodTests.clips(ModelGradientTests.tiny, batch: 1, seed: 2)
        var logits: [AttentionKind: [Float]] = [:]
        for kind in AttentionKind.allCases {
            for auxiliary in [true, false] {
                var configuration = ModelGradientTests.tiny
                configuration.attention = kind
                configuration.auxiliaryHeads = auxiliary
                let model = try GCAIALModel(configuration: configuration, seed: 1)
                XCTAssertEqual(model.store.names, reference.store.names, "\(kind) \(auxiliary)")
                let output = try Autograd.withoutGradient { try model(clips, training: false) }
                let heads = auxiliary && [.gca, .gcaFrame, .gcaClip].contains(kind) ? 2 : 0
                XCTAssertEqual(output.auxiliaryLogits.count, heads, "\(kind) \(auxiliary)")
                let names = try output.objective(method: .gcaIAL, targets: [3]).parts.map(\.name)
                XCTAssertEqual(names, ["ce", "ial"] + (heads == 2 ? ["aux2", "aux3"] : []))
                logits[kind] = output.logits.data
            }
        }
        XCTAssertEqual(Set(logits.values.map { $0.map(\.bitPattern) }).count, AttentionKind.allCases.count, "each kind computes something else")
    }

    func testVariantBlocksGradients() {
        for kind in [AttentionKind.gcaFrame, .gcaClip] {
            let store = ParameterStore()
            let settings = AttentionSettings(kind: kind, mapSize: 4, reduction: 4, frames: 4, classes: 7, active: true)
            let block = ResidualBlock(ParameterBuilder(store: store, seed: 1), in: 8, out: 8, stride: 1, attention: settings)
            let input = randomTensor([8, 8, 4, 4], seed: 2)
            checkGradients([input, store.tensors["gc.0.weight"]!, store.tensors["fc1.0.weight"]!, store.tensors["fc2.0.weight"]!],
                           relativeTolerance: 2e-2, absoluteTolerance: 5e-3, skippingKinks: true) { t in
                block(t[0], training: true).output
            }
        }
    }
}
