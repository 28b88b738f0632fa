import Foundation
import XCTest
@testable import FerdLeaderboard

final class LeaderboardTests: TemporaryDatabaseTestCase {
    func testExperimentIsFoundByContentHash() throws {
        let leaderboard = try open()
        let first = try leaderboard.findOrCreateExperiment(name: "a", contentHash: "h1", config: "{}", at: now)
        let again = try leaderboard.findOrCreateExperiment(name: "renamed", contentHash: "h1", config: "{}", at: now)
        XCTAssertTrue(first.created)
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.experiment, first.experiment)
        XCTAssertEqual(try leaderboard.experiment(contentHash: "h1"), first.experiment)
        XCTAssertNil(try leaderboard.experiment(contentHash: "other"))
    }

    func testPlanningTrialsTwiceCreatesThemOnce() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        XCTAssertEqual(try seededExperiment(in: leaderboard).trials, trials)
        XCTAssertEqual(try leaderboard.gridPoints(experimentID: experiment.id).count, 2)
        let stored = try leaderboard.trials(experimentID: experiment.id)
        XCTAssertEqual(stored.map(\.id), trials)
        XCTAssertEqual(stored.map(\.state), Array(repeating: .queued, count: 4))
        XCTAssertEqual(stored.map(\.fold), [1, 2, 1, 2])
        XCTAssertEqual(stored[1].seed, 2 << 60)
    }

    func testSeedsUseAllSixtyFourBits() throws {
        let leaderboard = try open()
        let experiment = try leaderboard.findOrCreateExperiment(name: "s", contentHash: "s", config: "{}", at: now)
        let ids = try leaderboard.insertTrials(experimentID: experiment.experiment.id,
                                               plans: [TrialPlan(paramsJSON: "{}", fold: 1, seed: .max)], at: now)
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.experiment.id).map(\.seed), [.max])
        XCTAssertEqual(ids.count, 1)
    }

    func testStateChangesAndListingByState() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let later = now.addingTimeInterval(60)
        try leaderboard.applyStateChanges([
            TrialStateChange(trialID: trials[0], state: .running, attempts: 1, worker: "w1"),
            TrialStateChange(trialID: trials[1], state: .lost, attempts: 1),
        ], at: later)
        let running = try leaderboard.trials(experimentID: experiment.id, state: .running)
        XCTAssertEqual(running.map(\.id), [trials[0]])
        XCTAssertEqual(running.first?.worker, "w1")
        XCTAssertEqual(running.first?.updated, later)
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id, state: .lost).map(\.attempts), [1])
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id, state: .queued).count, 2)
    }

    func testAStateChangeForAnUnknownTrialRollsBackTheBatch() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        XCTAssertThrowsError(try leaderboard.applyStateChanges([
            TrialStateChange(trialID: trials[0], state: .running, attempts: 1, worker: "w1"),
            TrialStateChange(trialID: 999, state: .running, attempts: 1, worker: "w1"),
        ], at: now)) { error in
            XCTAssertEqual(error as? LeaderboardError, .unknownTrial(id: 999, path: path()))
        }
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id, state: .queued).count, 4)
    }

    func testEpochMetricIsRecordedOnce() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let metric = EpochMetricRecord(trialID: trials[0], attempt: 1, epoch: 3, trainLoss: 1.2, uar: 0.4, war: 0.5,
                                       learningRate: 1e-4, seconds: 90, confusion: [[1, 2], [3, 4]])
        XCTAssertTrue(try leaderboard.recordEpochMetric(metric))
        var repeated = metric
        repeated.uar = 0.9
        XCTAssertFalse(try leaderboard.recordEpochMetric(repeated))
        var nextAttempt = metric
        nextAttempt.attempt = 2
        nextAttempt.confusion = nil
        XCTAssertTrue(try leaderboard.recordEpochMetric(nextAttempt))
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id), [metric, nextAttempt])
    }

    func testResumePointsOnlyMoveForwardAndEndWithTheTrial() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        func point(_ epoch: Int) -> StoredResumePoint {
            StoredResumePoint(epoch: epoch, size: 10 * epoch, sha256: String(repeating: "\(epoch)", count: 64), path: "r\(epoch)")
        }
        XCTAssertEqual(try leaderboard.replaceResumePoint(trialID: trials[0], with: point(2)), .some(nil))
        XCTAssertEqual(try leaderboard.replaceResumePoint(trialID: trials[0], with: point(1)), nil, "never backwards")
        XCTAssertEqual(try leaderboard.replaceResumePoint(trialID: trials[0], with: point(3)), .some(point(2)))
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id).first?.resume, point(3))
        XCTAssertEqual(try leaderboard.clearResumePoint(trialID: trials[0]), point(3))
        XCTAssertNil(try leaderboard.trials(experimentID: experiment.id).first?.resume)
        XCTAssertNil(try leaderboard.clearResumePoint(trialID: trials[0]))
        XCTAssertTrue(try leaderboard.recordResult(sampleResult(trialID: trials[0]), at: now))
        XCTAssertEqual(try leaderboard.replaceResumePoint(trialID: trials[0], with: point(4)), nil, "a DONE trial takes none")
        XCTAssertThrowsError(try leaderboard.clearResumePoint(trialID: 999))
    }

    func testAGangEpochKeepsItsCostsPerStep() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let metric = EpochMetricRecord(trialID: trials[1], attempt: 1, epoch: 1, trainLoss: 1.5, uar: 0.3, war: 0.4,
                                       learningRate: 1e-4, seconds: 12,
                                       gang: GangEpochCost(members: 3, stepSeconds: 0.75, communicationSeconds: 0.125,
                                                           bytesPerStep: 50_331_648))
        XCTAssertTrue(try leaderboard.recordEpochMetric(metric))
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id), [metric])
    }

    func testAnSCNEpochKeepsItsRelabelCounts() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        var fromTo = Array(repeating: Array(repeating: 0, count: 7), count: 7)
        fromTo[1][0] = 4
        let metric = EpochMetricRecord(trialID: trials[0], attempt: 1, epoch: 10, trainLoss: 1, uar: 0.3, war: 0.4,
                                       learningRate: 0.01, seconds: 2,
                                       relabels: RelabelCounts(changed: 4, fromTo: fromTo, relabelledByClass: [0, 4, 0, 0, 0, 0, 0]))
        XCTAssertTrue(try leaderboard.recordEpochMetric(metric))
        XCTAssertEqual(try leaderboard.epochMetrics(experimentID: experiment.id), [metric])
    }

    func testResultIsStoredExactlyOnceAndCompletesTheTrial() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let result = sampleResult(trialID: trials[2])
        XCTAssertTrue(try leaderboard.recordResult(result, at: now))
        XCTAssertFalse(try leaderboard.recordResult(sampleResult(trialID: trials[2], uar: 0.99), at: now))
        XCTAssertEqual(try leaderboard.results(experimentID: experiment.id), [result])
        XCTAssertEqual(try leaderboard.trials(experimentID: experiment.id, state: .done).map(\.id), [trials[2]])
    }

    func testCheckpointPathIsSetOnTheStoredAttemptOnly() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        var result = sampleResult(trialID: trials[1])
        result.checkpointPath = nil
        try leaderboard.recordResult(result, at: now)
        XCTAssertFalse(try leaderboard.setCheckpointPath(trialID: trials[1], attempt: 2, path: "/a/b"))
        XCTAssertFalse(try leaderboard.setCheckpointPath(trialID: trials[0], attempt: 1, path: "/a/b"))
        XCTAssertTrue(try leaderboard.setCheckpointPath(trialID: trials[1], attempt: 1, path: "/a/b"))
        result.checkpointPath = "/a/b"
        XCTAssertEqual(try leaderboard.results(experimentID: experiment.id), [result])
    }

    func testReportLoadsTheWholeExperiment() throws {
        let leaderboard = try open()
        let (experiment, trials) = try seededExperiment(in: leaderboard)
        let other = try leaderboard.findOrCreateExperiment(name: "other", contentHash: "zzz", config: "{}", at: now)
        _ = try leaderboard.insertTrials(experimentID: other.experiment.id,
                                         plans: [TrialPlan(paramsJSON: "{}", fold: 1, seed: 1)], at: now)
        try leaderboard.recordEpochMetric(EpochMetricRecord(trialID: trials[0], attempt: 1, epoch: 1, trainLoss: 1,
                                                            uar: 0.3, war: 0.4, learningRate: 1e-3, seconds: 5))
        try leaderboard.recordResult(sampleResult(trialID: trials[0]), at: now)
        let report = try XCTUnwrap(try leaderboard.report(experimentID: experiment.id))
        XCTAssertEqual(report.experiment, experiment)
        XCTAssertEqual(report.gridPoints.count, 2)
        XCTAssertEqual(report.trials.map(\.id), trials)
        XCTAssertEqual(report.results.map(\.trialID), [trials[0]])
        XCTAssertEqual(report.epochMetrics.map(\.epoch), [1])
        XCTAssertNil(try leaderboard.report(experimentID: 12345))
    }

    func testWorkersAndEvents() throws {
        let leaderboard = try open()
        var worker = WorkerRecord(id: "gpu-1/0", host: "gpu-1", cores: 32, backend: "cuda:0", slots: 1,
                                  lastHeartbeat: now)
        try leaderboard.upsertWorker(worker)
        worker.slots = 2
        try leaderboard.upsertWorker(worker)
        let later = now.addingTimeInterval(3)
        try leaderboard.recordHeartbeat(workerID: worker.id, at: later)
        worker.lastHeartbeat = later
        XCTAssertEqual(try leaderboard.workers(), [worker])

        for index in 1...5 {
            try leaderboard.logEvent(kind: "lost", text: "trial \(index)", at: now.addingTimeInterval(Double(index)))
        }
        XCTAssertEqual(try leaderboard.recentEvents(limit: 2).map(\.text), ["trial 4", "trial 5"])
    }

    func testDroppedMessagesAddUpByEndpointPeerAndKindAndOnTheWorkersRow() throws {
        let leaderboard = try open()
        try leaderboard.upsertWorker(WorkerRecord(id: "w1", host: "w1", cores: 2, backend: "cpu", slots: 1,
                                                  lastHeartbeat: now))
        func record(_ endpoint: String, _ peer: String, _ kind: String, _ count: Int, address: String? = nil,
                    at seconds: Double = 0) -> DroppedMessagesRecord {
            DroppedMessagesRecord(endpoint: endpoint, peer: peer, kind: kind, address: address, count: count,
                                  lastTime: now.addingTimeInterval(seconds))
        }
        try leaderboard.addDroppedMessages([record("coordinator", "w1", "undecodable", 2, address: "10.0.0.5"),
                                            record("coordinator", "0x00ab", "frame-count", 40, address: "10.0.0.9")])
        try leaderboard.addDroppedMessages([record("coordinator", "w1", "undecodable", 3, at: 5),
                                            record("gradient hub", "w1", "malformed", 1, at: 5)])
        XCTAssertEqual(try leaderboard.droppedMessages(), [
            record("coordinator", "0x00ab", "frame-count", 40, address: "10.0.0.9"),
            record("coordinator", "w1", "undecodable", 5, address: "10.0.0.5", at: 5),
            record("gradient hub", "w1", "malformed", 1, at: 5),
        ])
        XCTAssertEqual(try leaderboard.workers().map(\.droppedMessages), [6], "the worker's row holds its total")
    }
}
