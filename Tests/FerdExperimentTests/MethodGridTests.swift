@testable import FerdExperiment
import FerdModels
import FerdTensor
import FerdTraining
import XCTest

/// `method:` in the grid: each method's keys, its preset and recipe, keys dropped where they do not apply.
final class MethodGridTests: XCTestCase {
    private let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Configs")

    private func experiment(_ grid: String, extra: String = "") throws -> ExperimentDefinition {
        try ExperimentDefinition.parse("name: m\ndata: {path: /d}\nfolds: [1, 2]\n\(extra)grid:\n\(grid)")
    }

    private func assertError(_ grid: String, contains expected: String, line: Int?, extra: String = "",
                             file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try experiment(grid, extra: extra), file: file, line: lineNumber) { error in
            let description = "\(error)"
            XCTAssertTrue(description.contains(expected), description, file: file, line: lineNumber)
            if let line { XCTAssertTrue(description.hasPrefix("line \(line):"), description, file: file, line: lineNumber) }
        }
    }

    func testEveryPointTakesItsMethodsPresetRecipeAndKeys() throws {
        let text = try String(contentsOf: configs.appendingPathComponent("dfew-methods.yaml"), encoding: .utf8)
        let definition = try ExperimentDefinition.parse(text, fileName: "dfew-methods.yaml")
        XCTAssertEqual(definition.gridPoints.map { $0["method"] }, ModelMethod.allCases.map { .word($0.rawValue) })
        let trials = try definition.trials()
        XCTAssertEqual(trials.count, 5 * 5)
        let byMethod = Dictionary(trials.map { ($0.settings.model.method, $0) }, uniquingKeysWith: { first, _ in first })

        let gca = try XCTUnwrap(byMethod[.gcaIAL])
        XCTAssertEqual(gca.settings.model, ModelConfiguration.paper)
        XCTAssertEqual(gca.settings.schedule, .reference)
        XCTAssertEqual([gca.settings.learningRate, gca.settings.weightDecay], [1e-3, 0.1])
        XCTAssertEqual([gca.settings.epochs, gca.settings.batchSize], [80, 40])
        XCTAssertEqual(Set(gca.parameters.keys), ["method", "preset", "attention", "lambda"], "SCN/RAN/STT keys dropped")

        let scn = try XCTUnwrap(byMethod[.scn])
        XCTAssertEqual(scn.settings.model, ModelConfiguration.preset(named: "paper", method: .scn))
        XCTAssertEqual(scn.settings.schedule, .exponential(factor: 0.9))
        XCTAssertEqual([scn.settings.learningRate, scn.settings.weightDecay], [0.01, 1e-4])
        XCTAssertEqual([scn.settings.epochs, scn.settings.batchSize], [70, 64])
        XCTAssertEqual(scn.settings.methodLoss.scn, SCNLossSettings(rankFraction: 0.7, rankMargin: 0.15, relabelMargin: 0.2, relabelEpoch: 10))
        XCTAssertNil(scn.parameters["lambda"])

        let ran = try XCTUnwrap(byMethod[.ran])
        XCTAssertEqual(ran.settings.schedule, .multiStep(milestones: [12, 20, 32], factor: 0.1))
        XCTAssertEqual([ran.settings.epochs, ran.settings.batchSize], [40, 32])
        XCTAssertEqual(ran.settings.model.ranCrops, .fixed)

        for method in [ModelMethod.stt, .formerDFER] {
            let settings = try XCTUnwrap(byMethod[method]).settings
            XCTAssertEqual(settings.schedule, .step(every: 40, factor: 0.1), method.rawValue)
            XCTAssertEqual([settings.epochs, settings.batchSize, settings.framesPerSegment], [100, 32, 2], method.rawValue)
            XCTAssertEqual(settings.model, ModelConfiguration.preset(named: "paper", method: method).map {
                var model = $0
                if method == .stt { model.sttAttention = .spaceTime }
                return model
            })
        }
        XCTAssertEqual(byMethod[.stt]?.settings.methodLoss.stt.compactWeight, 1)
    }

    func testTheDemoComparesTheMethodsOnOneFold() throws {
        let text = try String(contentsOf: configs.appendingPathComponent("methods-demo.yaml"), encoding: .utf8)
        let trials = try ExperimentDefinition.parse(text, fileName: "methods-demo.yaml").trials()
        XCTAssertEqual(trials.map(\.settings.model.method), [.ran, .gcaIAL, .scn, .stt, .formerDFER])
        XCTAssertTrue(trials.allSatisfy { $0.fold == 1 && $0.settings.epochs == 3 && $0.settings.schedule == .constant })
        XCTAssertTrue(trials.allSatisfy { $0.settings.model.imageSize == 56 && $0.settings.model.frames == 8 })
        XCTAssertEqual(trials.first { $0.settings.model.method == .scn }?.settings.methodLoss.scn.relabelEpoch, 2)
    }

    func testAKeyIsDroppedWhereItsMethodIsNotAndDuplicatesAreMerged() throws {
        let definition = try experiment("  method: [gca-ial, scn]\n  scn_beta: [0.6, 0.7]\n  lambda: [0, 0.1]\n")
        XCTAssertEqual(definition.gridPoints.map(ExperimentDefinition.canonical), [
            #"{"lambda":0,"method":"gca-ial"}"#, #"{"lambda":0.1,"method":"gca-ial"}"#,
            #"{"method":"scn","scn_beta":0.6}"#, #"{"method":"scn","scn_beta":0.7}"#,
        ])
        XCTAssertEqual(try definition.trials().count, 4 * 2)
    }

    func testMethodKeysAreCheckedUpFront() {
        assertError("  scn_beta: 0.5\n", contains: "grid.scn_beta applies to method scn, which grid.method does not list (gca-ial)", line: 5)
        assertError("  method: [scn, ran]\n  csce_lambda: 2\n", contains: "grid.csce_lambda applies to method stt", line: 6)
        assertError("  method: svm\n", contains: "method 'svm' is not known; use gca-ial, scn, ran, stt, former-dfer", line: nil)
        assertError("  method: stt\n  stt_attention: divided\n", contains: "stt_attention 'divided' is not known; use space-time, joint",
                    line: nil)
        assertError("  method: scn\n  scn_beta: 1.5\n", contains: "SCN's β (scn_beta) is 1.5", line: nil)
        assertError("  method: scn\n  scn_relabel_epoch: 0\n", contains: "scn_relabel_epoch", line: nil)
        assertError("  method: scn\n  lr_step: 5\n", contains: "applies to the step schedule, not exponential", line: nil)
        assertError("  aux_heads: maybe\n", contains: "aux_heads 'maybe' is not known; use true or false", line: nil)
        assertError("  method: stt\n  frames_per_segment: 3\n", contains: "frames per segment 3", line: nil)
        assertError("  method: ran\n  schedule: cosine\n", contains: "schedule 'cosine' is not known", line: nil)
        assertError("  method: [gca-ial, scn]\n  scn_beta: {uniform: [0.5, 1.5]}\n", contains: "grid.scn_beta can give 1.5",
                    line: 8, extra: "search: random\nsamples: 4\n")
        assertError("  method: scn\n", contains: "'init' must be the path of a .safetensors file", line: 4, extra: "init: weights.pth\n")
    }

    func testSwitchesScheduleOverridesAndInitialWeights() throws {
        let gca = try experiment("  aux_heads: false\n  schedule: exponential\n  lr_gamma: 0.8\n", extra: "init: /w/start.safetensors\n")
        XCTAssertEqual(gca.initWeights, "/w/start.safetensors")
        let settings = try gca.trials()[0].settings
        XCTAssertFalse(settings.model.auxiliaryHeads)
        XCTAssertEqual(settings.schedule, .exponential(factor: 0.8))
        let former = try experiment("  method: former-dfer\n  lr_step: 10\n  frames_per_segment: 1\n").trials()[0].settings
        XCTAssertEqual(former.schedule, .step(every: 10, factor: 0.1))
        XCTAssertEqual(former.framesPerSegment, 1)
        let ran = try experiment("  method: ran\n  ran_recompute: true\n").trials()[0].settings
        XCTAssertTrue(ran.model.ranRecompute)
        XCTAssertFalse(try experiment("  method: ran\n").trials()[0].settings.model.ranRecompute, "off unless asked for")
        assertError("  method: ran\n  ran_recompute: sometimes\n", contains: "ran_recompute 'sometimes' is not known; use true or false",
                    line: nil)
        assertError("  method: scn\n  ran_recompute: true\n", contains: "grid.ran_recompute applies to method ran", line: 6)
        let random = try experiment("  method: [gca-ial, scn]\n  scn_beta: {uniform: [0.5, 0.9]}\n", extra: "search: random\nsamples: 6\n")
        XCTAssertTrue(random.gridPoints.allSatisfy { $0["method"] == .word("scn") || $0["scn_beta"] == nil })
    }
}
