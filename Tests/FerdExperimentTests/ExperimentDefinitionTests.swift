@testable import FerdExperiment
import FerdTraining
import XCTest

/// Experiment files: grid expansion, seeds, and errors naming the key and line.
final class ExperimentDefinitionTests: XCTestCase {
    private let example = """
    name: sweep
    data:
      path: /data/dfew
      layout: reorganised
    folds: [1, 2, 3]
    seeds: 2
    grid:
      preset: small
      lambda: [0, 0.1]
      r: [8, 16]
      epochs: 2
      batch: 4
    """

    func testExpandsGridSeedsAndFolds() throws {
        let experiment = try ExperimentDefinition.parse(example)
        XCTAssertEqual(experiment.gridPoints.count, 4)
        XCTAssertEqual(experiment.gridPoints[1]["r"], .number(16))
        XCTAssertEqual(experiment.gridPoints[2]["lambda"], .number(0.1))
        let trials = try experiment.trials()
        XCTAssertEqual(trials.count, 4 * 2 * 3)
        XCTAssertEqual(Set(trials.map(\.settings.seed)).count, trials.count, "every trial has its own seed")
        let first = trials[0].settings
        XCTAssertEqual(first.model.reduction, 8)
        XCTAssertEqual(first.loss.intensityAware, 0)
        XCTAssertEqual(first.epochs, 2)
        XCTAssertEqual(first.weightDecay, 0.1, "unset parameters take the reference value")
    }

    func testSameFileGivesSameSeedsAndHash() throws {
        let a = try ExperimentDefinition.parse(example), b = try ExperimentDefinition.parse(example)
        XCTAssertEqual(a.contentHash, b.contentHash)
        XCTAssertEqual(try a.trials().map(\.settings.seed), try b.trials().map(\.settings.seed))
        let changed = try ExperimentDefinition.parse(example.replacingOccurrences(of: "epochs: 2", with: "epochs: 3"))
        XCTAssertNotEqual(changed.contentHash, a.contentHash)
    }

    private func assertError(_ text: String, contains expected: String, line: Int?, file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try ExperimentDefinition.parse(text), file: file, line: lineNumber) { error in
            let description = "\(error)"
            XCTAssertTrue(description.contains(expected), description, file: file, line: lineNumber)
            if let line { XCTAssertTrue(description.hasPrefix("line \(line):"), description, file: file, line: lineNumber) }
        }
    }

    func testErrorsNameTheKeyAndLine() {
        assertError(example + "\nlearning_rate: 3", contains: "unknown key 'learning_rate'", line: 13)
        assertError(example.replacingOccurrences(of: "r: [8, 16]", with: "r: []"), contains: "grid.r is an empty list", line: 10)
        assertError(example.replacingOccurrences(of: "epochs: 2", with: "epochs: many"), contains: "grid.epochs takes numbers", line: 11)
        assertError(example.replacingOccurrences(of: "lambda:", with: "lamda:"), contains: "unknown grid parameter 'lamda'", line: 9)
        assertError(example.replacingOccurrences(of: "[1, 2, 3]", with: "[1, 7]"), contains: "folds must be numbers from 1 to 5", line: 5)
        assertError(example.replacingOccurrences(of: "preset: small", with: "preset: huge"), contains: "preset 'huge'", line: nil)
        assertError("name: x\ngrid: {}\n", contains: "'data' is missing", line: nil)
        assertError("[1, 2", contains: "not valid YAML", line: nil)
    }

    func testSingleSplitDatasetsHaveFoldOne() throws {
        let ferv39k = example.replacingOccurrences(of: "layout: reorganised", with: "layout: ferv39k")
        assertError(ferv39k, contains: "fold 2 does not exist: FERV39k has one train/test split, fold 1; set folds: [1]", line: 5)
        XCTAssertEqual(try ExperimentDefinition.parse(ferv39k.replacingOccurrences(of: "folds: [1, 2, 3]\n", with: "")).folds, [1])
        XCTAssertEqual(try ExperimentDefinition.parse(example.replacingOccurrences(of: "folds: [1, 2, 3]\n", with: "")).folds,
                       [1, 2, 3, 4, 5])
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-rafdb-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/basic/EmoLabel", withIntermediateDirectories: true)
        try Data("train_00001.jpg 1\n".utf8).write(to: URL(fileURLWithPath: root + "/basic/EmoLabel/list_patition_label.txt"))
        let detected = example.replacingOccurrences(of: "/data/dfew\n  layout: reorganised", with: root)
            .replacingOccurrences(of: "folds: [1, 2, 3]\n", with: "")
        XCTAssertEqual(try ExperimentDefinition.parse(detected).folds, [1], "the layout detected at the data path")
    }

    func testEngineKeys() throws {
        XCTAssertEqual(try ExperimentDefinition.parse(example).engine, EngineSettings())
        let torch = try ExperimentDefinition.parse(example + """

        engine: torch
        engine_timeout: 5m
        torch:
          precision: bf16
          channels_last: true
          compile: false
          gpus_per_trial: 2
        """)
        XCTAssertEqual(torch.engine, EngineSettings(choice: .torch, precision: "bf16", channelsLast: true, gpusPerTrial: 2,
                                                    timeoutSeconds: 300))
        let custom = try ExperimentDefinition.parse(example + "\nengine: {command: [python3, train.py, --fast]}\n")
        XCTAssertEqual(custom.engine.choice, .command)
        XCTAssertEqual(custom.engine.command, ["python3", "train.py", "--fast"])
        XCTAssertTrue(custom.engine.needsTorch)
        XCTAssertEqual(try ExperimentDefinition.parse(example + "\nworkers_per_trial: 2\n").engine.choice, .swift,
                       "a gang runs on swift workers")
        assertError(example + "\nengine: jax", contains: "'engine' must be one of any, swift, torch", line: 13)
        assertError(example + "\nengine: {cmd: [x]}", contains: "unknown key 'engine.cmd'", line: 13)
        assertError(example + "\nengine: {command: []}", contains: "engine.command must be a non-empty list", line: 13)
        assertError(example + "\nengine: torch\ntorch: {precision: fp8}", contains: "'torch.precision' must be one of fp32, bf16, fp16", line: 14)
        assertError(example + "\nengine: swift\ntorch: {precision: bf16}", contains: "do not apply to engine: swift", line: 14)
        XCTAssertEqual(try ExperimentDefinition.parse(example + "\nengine: torch\nworkers_per_trial: 2\n").engine.choice, .torch)
        assertError(example + "\nengine: {command: [x]}\nworkers_per_trial: 2", contains: "cannot be used with engine: {command", line: 14)
        assertError(example + "\nengine: torch\nworkers_per_trial: 2\ntorch: {gpus_per_trial: 2}", contains: "not both", line: 14)
    }

    func testDataParallelKeys() throws {
        let plain = try ExperimentDefinition.parse(example)
        XCTAssertEqual(plain.workersPerTrial, 1)
        XCTAssertEqual(plain.dataParallel, DataParallelSettings(minWorkers: 1))
        XCTAssertEqual(plain.gangWait, 60)
        let gang = try ExperimentDefinition.parse(example + """

        workers_per_trial: 4
        min_workers: 2
        gang_wait: 2m
        reduction: ring
        gradient_precision: fp16
        bucket_mb: 8
        """)
        XCTAssertEqual(gang.workersPerTrial, 4)
        XCTAssertEqual(gang.dataParallel, DataParallelSettings(minWorkers: 2, reduction: "ring", gradientPrecision: "fp16",
                                                               bucketMegabytes: 8))
        XCTAssertEqual(gang.gangWait, 120)
        XCTAssertEqual(try ExperimentDefinition.parse(example + "\nworkers_per_trial: 3\n").dataParallel.minWorkers, 3,
                       "min_workers defaults to workers_per_trial")
        assertError(example + "\nworkers_per_trial: 2\nmin_workers: 3", contains: "'min_workers' (3) must not exceed workers_per_trial (2)",
                    line: 14)
        assertError(example + "\nreduction: tree", contains: "'reduction' must be one of star, ring", line: nil)
        assertError(example + "\ngradient_precision: bf16", contains: "'gradient_precision' must be one of fp32, fp16", line: nil)
        assertError(example + "\ngang_wait: soon", contains: "gang_wait must be a duration like 90s", line: 13)
        assertError(example + "\nworkers_per_trial: 0", contains: "workers_per_trial", line: 13)
    }

    func testShippedConfigsParse() throws {
        let configs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Configs")
        for name in ["demo.yaml", "demo-data-parallel.yaml", "dfew-gca-ial.yaml", "dfew-random-search.yaml"] {
            let text = try String(contentsOf: configs.appendingPathComponent(name), encoding: .utf8)
            XCTAssertNoThrow(try ExperimentDefinition.parse(text, fileName: name), name)
        }
        let paper = try ExperimentDefinition.parse(String(contentsOf: configs.appendingPathComponent("dfew-gca-ial.yaml"), encoding: .utf8))
        XCTAssertEqual(try paper.trials().count, 5 * paper.gridPoints.count)
        let search = try ExperimentDefinition.parse(String(contentsOf: configs.appendingPathComponent("dfew-random-search.yaml"),
                                                           encoding: .utf8))
        XCTAssertEqual(search.search.strategy, .sobol(samples: 16))
        XCTAssertEqual(search.gridPoints.count, 16)
        XCTAssertEqual(search.gridPoints[0]["lambda"], .number(0.1), "Sobol point 1 is the middle of every range")
        XCTAssertEqual(search.gridPoints[1].filter { ["lambda", "lr", "r"].contains($0.key) },
                       ["lambda": .number(0.3162), "lr": .number(0.0003162), "r": .number(8)])
        XCTAssertEqual(try search.trials().count, 16 * 5)
    }
}
