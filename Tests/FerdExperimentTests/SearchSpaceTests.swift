@testable import FerdExperiment
import XCTest

/// Search spaces: range forms and their errors, random and Sobol points, duplicates, and trials from samples.
final class SearchSpaceTests: XCTestCase {
    private let header = """
    name: search
    data: {path: /data/dfew}
    folds: [1, 2, 3]

    """

    private func parse(_ body: String) throws -> ExperimentDefinition {
        try ExperimentDefinition.parse(header + body)
    }

    private func assertError(_ body: String, contains expected: String, line: Int?, file: StaticString = #filePath,
                             lineNumber: UInt = #line) {
        XCTAssertThrowsError(try parse(body), file: file, line: lineNumber) { error in
            let description = "\(error)"
            XCTAssertTrue(description.contains(expected), description, file: file, line: lineNumber)
            if let line { XCTAssertTrue(description.hasPrefix("line \(line):"), description, file: file, line: lineNumber) }
        }
    }

    private func canonical(_ experiment: ExperimentDefinition) -> [String] {
        experiment.gridPoints.map(ExperimentDefinition.canonical)
    }

    private let ranges = """
    search: random
    samples: 8
    grid:
      preset: small
      lambda: {uniform: [0, 1]}
      lr: {loguniform: [0.0001, 0.1]}
      epochs: {int: [1, 3]}
      attention: {choice: [gca, se]}
      r: [8, 16]
    """

    func testParsesEachRangeForm() throws {
        let experiment = try parse(ranges)
        XCTAssertEqual(experiment.search.strategy, .random(samples: 8, seed: 0))
        XCTAssertEqual(experiment.search.dimensions.map(\.domain), [
            .values([.word("small")]), .uniform(low: 0, high: 1), .logUniform(low: 0.0001, high: 0.1), .integer(low: 1, high: 3),
            .choice([.word("gca"), .word("se")]), .values([.number(8), .number(16)]),
        ])
        XCTAssertEqual(experiment.search.dimensions.map(\.line), [7, 8, 9, 10, 11, 12])
        XCTAssertEqual(experiment.search.varying.map(\.name), ["lambda", "lr", "epochs", "attention", "r"],
                       "a list under random search is a choice; a single value is fixed")
        for point in experiment.gridPoints {
            guard case .number(let lambda)? = point["lambda"], case .number(let lr)? = point["lr"],
                  case .number(let epochs)? = point["epochs"], case .number(let r)? = point["r"] else {
                return XCTFail("\(point)")
            }
            XCTAssertTrue((0..<1).contains(lambda) && (0.0001...0.1).contains(lr), "\(point)")
            XCTAssertTrue([1, 2, 3].contains(epochs) && [8, 16].contains(r), "\(point)")
            XCTAssertTrue([ParameterValue.word("gca"), .word("se")].contains(point["attention"]!))
            XCTAssertEqual(point["preset"], .word("small"))
            for value in [lambda, lr] {
                XCTAssertEqual(Double(String(format: "%.4g", value)), value, "drawn numbers keep 4 significant digits")
            }
        }
        XCTAssertEqual(try parse(ranges.replacingOccurrences(of: "random\nsamples: 8", with: "sobol\nsamples: 8")).search.strategy,
                       .sobol(samples: 8))
        XCTAssertEqual(try parse(ranges + "\nsearch_seed: 7").search.strategy, .random(samples: 8, seed: 7))
        XCTAssertEqual(try parse("grid: {lambda: [0, 0.1], r: 8}").search.strategy, .grid, "search defaults to grid")
    }

    func testRangeErrorsNameTheKeyAndLine() {
        func range(_ form: String, key: String = "lr") -> String { "search: sobol\nsamples: 4\ngrid:\n  \(key): \(form)\n" }
        assertError(range("{uniform: [1]}"), contains: "grid.lr: uniform takes [low, high], two numbers, got [1]", line: 7)
        assertError(range("{uniform: [a, 1]}"), contains: "uniform takes [low, high], two numbers", line: 7)
        assertError(range("{uniform: [0, .inf]}"), contains: "uniform takes [low, high], two numbers", line: 7)
        assertError(range("{uniform: 3}"), contains: "uniform takes [low, high]", line: 7)
        assertError(range("{uniform: [1, 0.5]}"), contains: "grid.lr: uniform's low (1) must be below its high (0.5)", line: 7)
        assertError(range("{loguniform: [0.1, 0.1]}"), contains: "loguniform's low (0.1) must be below its high (0.1)", line: 7)
        assertError(range("{loguniform: [0, 1]}"), contains: "grid.lr: loguniform needs low > 0 (it draws in log space), got 0", line: 7)
        assertError(range("{loguniform: [-1, 1]}"), contains: "loguniform needs low > 0", line: 7)
        assertError(range("{int: [1, 2.5]}", key: "epochs"), contains: "grid.epochs: int takes whole numbers [low, high], got [1, 2.5]",
                    line: 7)
        assertError(range("{choice: []}", key: "r"), contains: "grid.r: choice is empty; give at least one value", line: 7)
        assertError(range("{choice: 8}", key: "r"), contains: "grid.r: choice takes a list", line: 7)
        assertError(range("{choice: [8, big]}", key: "r"), contains: "grid.r takes numbers, got 'big'", line: 7)
        assertError(range("{normal: [0, 1]}"), contains: "grid.lr: unknown range 'normal'; use {uniform: [low, high]}", line: 7)
        assertError(range("{uniform: [0, 1], int: [0, 1]}"), contains: "grid.lr must be a value, a list or one range", line: 7)
        assertError(range("{uniform: [0, 1]}", key: "preset"), contains: "grid.preset takes words", line: 7)
        assertError(range("{uniform: [8, 32]}", key: "r"), contains: "grid.r takes whole numbers; use {int: [low, high]}", line: 7)
        assertError("search: sobol\nsamples: 4\ngrid:\n  lr: 0.1\n  lr: 0.2\n", contains: "grid.lr is given twice", line: 8)
    }

    func testSearchKeyErrors() {
        let grid = "grid:\n  lambda: {uniform: [0, 1]}\n"
        assertError("search: sobol\n" + grid, contains: "'samples' is missing; search: sobol draws samples: N points", line: 4)
        assertError("search: random\nsamples: 0\n" + grid, contains: "'samples' must be a whole number ≥ 1, got 0", line: 5)
        assertError("search: random\nsamples: many\n" + grid, contains: "'samples' must be a whole number", line: 5)
        assertError("search: random\nsamples: 2000000\n" + grid, contains: "draw at most 1000000 points", line: 5)
        assertError("samples: 4\ngrid:\n  lambda: [0, 1]\n", contains: "'samples' applies to search: random or sobol", line: 4)
        assertError("search: annealing\nsamples: 4\n" + grid, contains: "'search' must be one of grid, random, sobol, got annealing",
                    line: 4)
        assertError("search: sobol\nsamples: 4\nsearch_seed: 3\n" + grid, contains: "'search_seed' applies to search: random only",
                    line: 6)
        assertError("search: random\nsamples: 4\nsearch_seed: -1\n" + grid, contains: "'search_seed' must be a whole number ≥ 0", line: 6)
        assertError(grid, contains: "grid.lambda is a range, which search: grid cannot enumerate; set search: random or search: sobol",
                    line: 5)
        assertError("grid:\n  r: {choice: [8, 16]}\n", contains: "grid.r is a range, which search: grid cannot enumerate", line: 5)
    }

    func testRandomIsDeterministicAndFollowsTheSeed() throws {
        let a = try parse(ranges), b = try parse(ranges)
        XCTAssertEqual(canonical(a), canonical(b), "the same file gives the same points in the same order")
        XCTAssertEqual(canonical(a), canonical(a), "expanding twice gives the same points")
        XCTAssertEqual(try a.trials().map(\.settings.seed), try b.trials().map(\.settings.seed))
        XCTAssertEqual(a.gridPoints.count, 8)
        let other = try parse(ranges + "\nsearch_seed: 1")
        XCTAssertNotEqual(canonical(other), canonical(a), "search_seed changes the points")
        XCTAssertNotEqual(other.contentHash, a.contentHash)
        let more = try parse(ranges.replacingOccurrences(of: "samples: 8", with: "samples: 12"))
        XCTAssertEqual(Array(canonical(more).prefix(canonical(a).count)), canonical(a), "more samples extend the same draws")
        // Pinned (and checked with an independent Python SplitMix64): a change to the draws would change the points
        // of a sweep resumed after an upgrade.
        XCTAssertEqual(canonical(a)[0], #"{"attention":"gca","epochs":1,"lambda":0.1446,"lr":0.0001466,"preset":"small","r":8}"#)
    }

    func testSobolSearchSkipsTheOriginAndFillsQuarters() throws {
        let space = try SearchSpace(strategy: .sobol(samples: 64), dimensions: [
            SearchDimension(name: "lambda", domain: .uniform(low: 0, high: 1)),
            SearchDimension(name: "momentum", domain: .uniform(low: 0, high: 1)),
        ])
        let points = space.expand().points
        XCTAssertEqual(points.count, 64)
        XCTAssertEqual(points[0], ["lambda": .number(0.5), "momentum": .number(0.5)], "point 0 (the origin) is skipped")
        XCTAssertEqual(points[1], ["lambda": .number(0.75), "momentum": .number(0.25)])
        var quarters = [0, 0, 0, 0]
        for point in points {
            guard case .number(let x)? = point["lambda"], case .number(let y)? = point["momentum"] else { return XCTFail() }
            quarters[(x < 0.5 ? 0 : 1) + (y < 0.5 ? 0 : 2)] += 1
        }
        XCTAssertEqual(quarters, [16, 16, 16, 16])
        let sobol = try parse("search: sobol\nsamples: 3\ngrid:\n  preset: small\n  lambda: {uniform: [0, 2]}\n  r: 8\n")
        XCTAssertEqual(canonical(sobol), [#"{"lambda":1,"preset":"small","r":8}"#, #"{"lambda":1.5,"preset":"small","r":8}"#,
                                          #"{"lambda":0.5,"preset":"small","r":8}"#], "fixed parameters take no Sobol dimension")
    }

    func testValuesOfEachRange() {
        let epochs = ParameterDomain.integer(low: 1, high: 3)
        XCTAssertEqual([0, 0.33, 0.34, 0.66, 0.67, 0.999_999].map(epochs.value(at:)), [1, 1, 2, 2, 3, 3].map(ParameterValue.number))
        let choice = ParameterDomain.choice([.number(8), .number(16)])
        XCTAssertEqual([0, 0.49, 0.5, 0.99].map(choice.value(at:)), [8, 8, 16, 16].map(ParameterValue.number))
        XCTAssertEqual(ParameterDomain.values([.word("gca"), .word("se"), .word("none")]).value(at: 0.7), .word("none"))
        XCTAssertEqual(ParameterDomain.logUniform(low: 0.01, high: 1).value(at: 0.5), .number(0.1), "loguniform is uniform in log space")
        XCTAssertEqual(ParameterDomain.logUniform(low: 0.01, high: 1).value(at: 0.25), .number(0.03162))
        XCTAssertEqual(ParameterDomain.uniform(low: 0, high: 1).value(at: 1.0 / 3), .number(0.3333))
        XCTAssertEqual(ParameterDomain.uniform(low: 1000, high: 2000).value(at: 0.123_456), .number(1123))
        XCTAssertEqual(ParameterDomain.rounded(0.000_123_456_7), 0.000_123_5)
    }

    func testDuplicatesAreDroppedAndCounted() throws {
        let experiment = try parse("search: sobol\nsamples: 16\ngrid:\n  preset: small\n  r: {choice: [8, 16]}\n  epochs: {int: [1, 2]}\n")
        let expansion = experiment.search.expand()
        XCTAssertEqual(expansion.points.count, 4)
        XCTAssertEqual(expansion.duplicatesDropped, 12)
        XCTAssertEqual(Set(canonical(experiment)).count, 4)
        XCTAssertEqual("\(expansion)", "sobol search: 16 samples over r, epochs; 12 duplicates dropped (equal values repeat) → 4 points")
        let random = try parse("search: random\nsamples: 5\nsearch_seed: 3\ngrid:\n  lambda: {uniform: [0, 1]}\n").search.expand()
        XCTAssertEqual("\(random)", "random search (search_seed 3): 5 samples over lambda → 5 points")
        let grid = try parse("grid:\n  lambda: [0, 0.1, 0]\n  r: [8, 16]\n").search.expand()
        XCTAssertEqual(grid.points.count, 4)
        XCTAssertEqual("\(grid)", "grid search: 6 combinations over lambda, r; 2 duplicates dropped (equal values repeat) → 4 points")
    }

    func testTrialsOfASampledSearch() throws {
        let experiment = try parse("seeds: 2\nsearch: sobol\nsamples: 6\ngrid:\n  preset: small\n  lambda: {loguniform: [0.01, 1]}\n"
                                   + "  lr: {loguniform: [0.0001, 0.01]}\n  r: {choice: [8, 16]}\n  epochs: 2\n")
        let trials = try experiment.trials()
        XCTAssertEqual(trials.count, 6 * 2 * 3, "samples × seeds × folds")
        XCTAssertEqual(trials.map(\.gridIndex), (0..<6).flatMap { Array(repeating: $0, count: 6) })
        XCTAssertEqual(Set(trials.map(\.settings.seed)).count, trials.count)
        for trial in trials {
            XCTAssertEqual(trial.settings.epochs, 2)
            XCTAssertTrue([8, 16].contains(trial.settings.model.reduction))
            guard case .number(let lambda)? = trial.parameters["lambda"] else { return XCTFail() }
            XCTAssertEqual(trial.settings.loss.intensityAware, Float(lambda))
        }
    }

    func testRangesWithInvalidValuesAreRejectedUpFront() {
        // The small preset's widths are 32 and 64: r = 5 does not divide them.
        assertError("search: random\nsamples: 2\ngrid:\n  preset: small\n  r: {int: [4, 20]}\n",
                    contains: "grid.r can give 5, which is not valid: training settings: model configuration: reduction r = 5 must divide",
                    line: 8)
        assertError("search: sobol\nsamples: 2\ngrid:\n  momentum: {uniform: [0.5, 1]}\n",
                    contains: "grid.momentum can give 1, which is not valid", line: 7)
        assertError("search: sobol\nsamples: 2\ngrid:\n  preset: small\n  r: {choice: [8, 12]}\n",
                    contains: "grid.r can give 12", line: 8)
        XCTAssertNoThrow(try parse("search: random\nsamples: 4\ngrid:\n  preset: small\n  r: {choice: [4, 8, 16, 32]}\n"))
        // Each value is valid with the others' first values, but small with r = 64 is not: the drawn point is named.
        assertError("search: sobol\nsamples: 8\ngrid:\n  preset: {choice: [paper, small]}\n  r: {choice: [8, 64]}\n",
                    contains: #"grid point {"preset":"small","r":64}: training settings: model configuration: reduction r = 64"#,
                    line: nil)
        assertError("search: sobol\nsamples: 8\ngrid:\n  preset: {choice: [paper, small]}\n  r: {choice: [8, 64]}\n",
                    contains: "(drawn by search: sobol; ferd does not resample", line: nil)
    }
}
