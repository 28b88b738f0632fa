@testable import FerdExperiment
import XCTest

/// `stopping:`, `budget:` and `max_concurrent:` in experiment files.
final class SweepPolicyTests: XCTestCase {
    private func parse(_ extra: String) throws -> ExperimentDefinition {
        try ExperimentDefinition.parse("""
        name: sweep
        data:
          path: /data/dfew
        \(extra)
        grid:
          preset: small
          lambda: [0, 0.1]
          epochs: 4
        """)
    }

    private func message(_ extra: String) -> String {
        do {
            _ = try parse(extra)
            return "parsed"
        } catch {
            return "\(error)"
        }
    }

    func testAnExperimentWithoutAPolicyRunsEverythingToTheEnd() throws {
        XCTAssertEqual(try parse("").policy, SweepPolicy())
    }

    func testStoppingBudgetAndConcurrencyAreRead() throws {
        let policy = try parse("""
        stopping: {rule: asha, metric: war, min_epochs: 3, grace: 4, reduction_factor: 2}
        budget: {trial_hours: 1.5}
        max_concurrent: 6
        """).policy
        XCTAssertEqual(policy.stopping, SweepPolicy.Stopping(rule: "asha", metric: "war", minEpochs: 3, grace: 4,
                                                             reductionFactor: 2))
        XCTAssertEqual(policy.budget, .trialHours(1.5))
        XCTAssertEqual(policy.maxConcurrent, 6)
        XCTAssertEqual(try parse("stopping: {rule: median}").policy.stopping,
                       SweepPolicy.Stopping(rule: "median", metric: "uar", minEpochs: 2, grace: 2, reductionFactor: 3))
        XCTAssertEqual(try parse("budget: {epochs: 500}").policy.budget, .epochs(500))
        XCTAssertEqual(try parse("budget: {wall_hours: 12}").policy.budget, .wallHours(12))
    }

    func testMistakesNameTheKeyAndTheFix() {
        XCTAssertTrue(message("stopping: {rule: hyperband}").contains("'stopping.rule' must be one of median, asha"))
        XCTAssertTrue(message("stopping: {min_epochs: 2}").contains("needs a rule: median or asha"))
        XCTAssertTrue(message("stopping: {rule: asha, reduction_factor: 1}").contains("'stopping.reduction_factor' must be a whole number ≥ 2"))
        XCTAssertTrue(message("stopping: {rule: median, patience: 3}").contains("unknown key 'stopping.patience'"))
        XCTAssertTrue(message("stopping: median").contains("'stopping' must be a mapping"))
        XCTAssertTrue(message("budget: {epochs: 10, wall_hours: 2}").contains("'budget' must name one limit"))
        XCTAssertTrue(message("budget: {gpu_hours: 2}").contains("unknown budget 'gpu_hours'"))
        XCTAssertTrue(message("budget: {trial_hours: -1}").contains("positive number of hours"))
        XCTAssertTrue(message("max_concurrent: 0").contains("'max_concurrent' must be a whole number ≥ 1"))
    }
}
