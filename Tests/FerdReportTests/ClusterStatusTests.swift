import FerdLeaderboard
import FerdReport
import Foundation
import XCTest

/// `ferd status`'s text: trial counts, running trials with their last epoch, the costs of gang trials.
final class ClusterStatusTests: XCTestCase {
    private let now = Date(timeIntervalSince1970: 1_800_000_000)

    private func trial(_ id: Int, _ state: TrialState, attempts: Int = 1, worker: String? = nil,
                       gangSize: Int? = nil, scale: Double? = nil) -> TrialRecord {
        TrialRecord(id: id, experimentID: 1, gridPointID: 1, fold: id, seed: 7, state: state, attempts: attempts,
                    worker: worker, updated: now, gangSize: gangSize, learningRateScale: scale)
    }

    private func epoch(_ trial: Int, attempt: Int = 1, _ epoch: Int, uar: Double, gang: GangEpochCost? = nil) -> EpochMetricRecord {
        EpochMetricRecord(trialID: trial, attempt: attempt, epoch: epoch, trainLoss: 1, uar: uar, war: uar,
                          learningRate: 1e-4, seconds: 42, gang: gang)
    }

    private func rendered(_ trials: [TrialRecord], _ metrics: [EpochMetricRecord]) -> [String] {
        let experiment = Experiment(id: 1, name: "dp", contentHash: "h", config: "", created: now)
        let status = ClusterStatus(experiments: [.init(experiment: experiment, trials: trials, epochMetrics: metrics)],
                                   workers: [WorkerRecord(id: "box-a", host: "a", cores: 16, backend: "cpu", slots: 1,
                                                          lastHeartbeat: now.addingTimeInterval(-3))])
        return status.render(now: now, style: TextStyle(width: 120)).components(separatedBy: "\n")
    }

    private func row(_ lines: [String], startingWith prefix: String, after title: String) throws -> [Substring] {
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix(title) }, "no \(title) table in\n\(lines.joined(separator: "\n"))")
        let line = try XCTUnwrap(lines[start...].first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(prefix) })
        return line.split(separator: " ")
    }

    func testRunningTrialsShowTheLastEpochOfTheirCurrentAttempt() throws {
        let lines = rendered([trial(1, .running, attempts: 2, worker: "box-a"), trial(2, .queued), trial(3, .done)],
                             [epoch(1, attempt: 1, 5, uar: 0.9), epoch(1, attempt: 2, 2, uar: 0.4), epoch(1, attempt: 2, 3, uar: 0.5)])
        XCTAssertEqual(lines[0], "#1 dp: 3 trials — QUEUED 1, RUNNING 1, LOST 0, FAILED 0, DONE 1, STOPPED 0")
        XCTAssertEqual(try row(lines, startingWith: "1 ", after: "Running"), ["1", "1", "2", "box-a", "3", "1.000", "50.00", "42.0"])
        XCTAssertFalse(lines.contains { $0.hasPrefix("Data-parallel") }, "no gang trials, no gang table")
        XCTAssertTrue(lines.contains("  box-a: 16 cores, 1 slots, cpu, last heartbeat 3 s ago"))
    }

    func testARunningTrialShowsItsEpochOutOfTheEpochsItsGridPointTrains() throws {
        let experiment = Experiment(id: 1, name: "dp", contentHash: "h", config: "", created: now)
        let state = ClusterStatus.ExperimentState(
            experiment: experiment, trials: [trial(1, .running, worker: "box-a")],
            epochMetrics: [EpochMetricRecord(trialID: 1, attempt: 1, epoch: 4, trainLoss: 0.8125, uar: 0.25, war: 0.5,
                                             learningRate: 0.01, seconds: 12)],
            gridPoints: [GridPoint(id: 1, experimentID: 1, paramsJSON: #"{"epochs":6,"lambda":0.1}"#)])
        let lines = ClusterStatus(experiments: [state], workers: []).render(now: now, style: TextStyle(width: 120))
            .components(separatedBy: "\n")
        XCTAssertEqual(try row(lines, startingWith: "1 ", after: "Running"), ["1", "1", "1", "box-a", "4/6", "0.812", "25.00", "12.0"])
    }

    func testGangTrialsShowTheirCostsPerStep() throws {
        let cost = GangEpochCost(members: 2, stepSeconds: 0.5, communicationSeconds: 0.125, bytesPerStep: 38_166_000)
        let lines = rendered([trial(4, .running, worker: "box-a,box-b", gangSize: 2, scale: 0.5), trial(5, .queued, gangSize: 4)],
                             [epoch(4, 1, uar: 0.3), epoch(4, 2, uar: 0.35, gang: cost)])
        XCTAssertEqual(try row(lines, startingWith: "4 ", after: "Data-parallel"),
                       ["4", "RUNNING", "2", "×0.5", "2", "0.500", "0.125", "25%", "38.17"])
        XCTAssertEqual(try row(lines, startingWith: "5 ", after: "Data-parallel"),
                       ["5", "QUEUED", "4", "×1", "–", "–", "–", "–", "–"])
        XCTAssertEqual(try row(lines, startingWith: "4 ", after: "Running"), ["4", "4", "1", "box-a,box-b", "2", "1.000", "35.00", "42.0"])
    }

    func testDroppedMessagesAreListedLargestFirstWithTheWorkersTotals() throws {
        let records = (0..<12).map { index in
            DroppedMessagesRecord(endpoint: "coordinator", peer: "0x00\(index)", kind: "frame-count",
                                  address: "10.0.0.\(index)", count: 100 - index, lastTime: now.addingTimeInterval(-7))
        }
        let status = ClusterStatus(experiments: [], workers: [
            WorkerRecord(id: "box-a", host: "a", cores: 16, backend: "cpu", slots: 1, lastHeartbeat: now, droppedMessages: 4),
        ], droppedMessages: records)
        let lines = status.render(now: now, style: TextStyle(width: 120)).components(separatedBy: "\n")
        XCTAssertTrue(lines.contains("  box-a: 16 cores, 1 slots, cpu, last heartbeat 0 s ago, 4 of its messages dropped"),
                      lines.joined(separator: "\n"))
        XCTAssertEqual(try row(lines, startingWith: "coordinator  0x000 ", after: "Dropped messages"),
                       ["coordinator", "0x000", "10.0.0.0", "frame-count", "100", "7", "s", "ago"])
        XCTAssertEqual(try row(lines, startingWith: "2 more", after: "Dropped messages"), ["2", "more", "\(90 + 89)"])
        XCTAssertFalse(lines.contains { $0.contains("0x0010") }, "only the 10 largest are listed")
    }

    func testGangTrialsBackingOffSayWhenAndWhy() throws {
        var waiting = trial(6, .queued, gangSize: 2)
        waiting.retry = TrialRetry(after: now.addingTimeInterval(40), reason: "gang 2 broke; gang failure 3 in a row, next try in 40 s")
        var over = trial(7, .queued, gangSize: 2)
        over.retry = TrialRetry(after: now.addingTimeInterval(-1), reason: "old")
        let lines = rendered([waiting, over], [])
        XCTAssertEqual(try row(lines, startingWith: "6 ", after: "Waiting to retry").prefix(5).map(String.init),
                       ["6", "QUEUED", "in", "40", "s"])
        XCTAssertTrue(lines.contains { $0.contains("gang failure 3 in a row") })
        XCTAssertFalse(lines.contains { $0.contains("old") }, "a back-off that is over is not shown")
    }

    func testAnEmptyLeaderboardSaysSo() {
        let status = ClusterStatus(experiments: [], workers: [])
        XCTAssertEqual(status.render(now: now, style: TextStyle()), "no experiments yet\n")
    }
}
