import FerdDigest
import FerdLeaderboard
import Foundation
import XCTest
@testable import FerdCluster

/// Like `FakeRunner`, but writes a checkpoint file for every attempt and offers it with the result.
struct CheckpointRunner: TrialRunner {
    enum Mode: Sendable {
        case honest
        /// Announces a digest that does not match the file.
        case wrongDigest
        /// Announces more bytes than the file holds.
        case short
    }

    /// About 1.1 MB of deterministic bytes: five chunks of 256 KiB, more than the credit window of four.
    static let content: [UInt8] = (0..<1_100_000).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
    static let sha256: String = {
        var digest = SHA256()
        digest.update(content)
        return digest.hexDigest()
    }()

    let directory: URL
    var mode: @Sendable (Int) -> Mode = { _ in .honest }

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        let file = directory.appendingPathComponent("run-\(trial.trialID)-\(trial.attempt).safetensors")
        try Data(Self.content).write(to: file)
        var sha = Self.sha256
        var size = Self.content.count
        switch mode(trial.trialID) {
        case .honest: break
        case .wrongDigest: sha = String(repeating: "0", count: 64)
        case .short: size += 300_000
        }
        return .completed(TrialScores(bestEpoch: 1, uar: 0.5, war: 0.6, perClassRecall: Array(repeating: 0.5, count: 7),
                                      confusion: FakeRunner.confusion, checkpointSHA256: sha, checkpointSize: size,
                                      checkpointFile: file))
    }
}

/// Runs `inner`, remembering every (trial, attempt) it was given.
final class RecordingRunner: TrialRunner, @unchecked Sendable {
    private let inner: any TrialRunner
    private let lock = NSLock()
    private var started: [Scheduler.TrialAttempt] = []

    init(_ inner: any TrialRunner) {
        self.inner = inner
    }

    var assignments: [Scheduler.TrialAttempt] { lock.withLock { started } }

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        lock.withLock { started.append(Scheduler.TrialAttempt(trialID: trial.trialID, attempt: trial.attempt)) }
        return try inner.run(trial: trial, report: report, cancelled: cancelled)
    }
}

final class CheckpointIntegrationTests: XCTestCase {
    private static let chunkSize = 256 * 1024

    private func artifactFiles(_ directory: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    func testCheckpointsArriveByteIdenticalWithPathAndDigestRecorded() throws {
        let cluster = try ClusterHarness(trials: 2)
        defer { cluster.shutdown() }
        let artifacts = cluster.directory.appendingPathComponent("artifacts/test")
        let runs = cluster.directory.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let endpoint = try cluster.startCoordinator(artifacts: artifacts)
        cluster.startWorker("w1", endpoint: endpoint, runner: CheckpointRunner(directory: runs), slots: 2,
                            chunkSize: Self.chunkSize)

        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let results = try cluster.leaderboard().results(experimentID: 1)
        XCTAssertEqual(results.map(\.trialID), cluster.trialIDs)
        for result in results {
            let expected = artifacts.appendingPathComponent("trial-\(result.trialID)-attempt-\(result.attempt).safetensors")
            XCTAssertEqual(result.checkpointPath, expected.path)
            XCTAssertEqual(result.digest, CheckpointRunner.sha256)
            XCTAssertEqual(try Data(contentsOf: expected), Data(CheckpointRunner.content))
        }
        XCTAssertEqual(artifactFiles(artifacts).count, 2, "no partial files left: \(artifactFiles(artifacts))")
    }

    func testCorruptAndShortTransfersAreRejectedWithoutStoppingTheCoordinator() throws {
        let cluster = try ClusterHarness(trials: 3)
        defer { cluster.shutdown() }
        let artifacts = cluster.directory.appendingPathComponent("artifacts/test")
        let runs = cluster.directory.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let (corrupt, short) = (cluster.trialIDs[0], cluster.trialIDs[1])
        let runner = CheckpointRunner(directory: runs, mode: { id in
            id == corrupt ? .wrongDigest : id == short ? .short : .honest
        })
        let endpoint = try cluster.startCoordinator(artifacts: artifacts)
        cluster.startWorker("w1", endpoint: endpoint, runner: runner, chunkSize: Self.chunkSize)

        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let results = try cluster.leaderboard().results(experimentID: 1)
        XCTAssertEqual(results.map(\.trialID), cluster.trialIDs)
        XCTAssertEqual(results.map { $0.checkpointPath == nil }, [true, true, false])
        let honest = "trial-\(cluster.trialIDs[2])-attempt-1.safetensors"
        XCTAssertEqual(artifactFiles(artifacts), [honest])
        let events = try cluster.leaderboard().recentEvents(limit: 50).map(\.text)
        XCTAssertTrue(events.contains { $0.contains("trial \(corrupt) attempt 1 checkpoint rejected: SHA-256") }, "\(events)")
        XCTAssertTrue(events.contains { $0.contains("trial \(short) attempt 1 checkpoint rejected: received") }, "\(events)")
    }

    func testWithoutAnArtifactsDirectoryNoCheckpointIsRequested() throws {
        let cluster = try ClusterHarness(trials: 1)
        defer { cluster.shutdown() }
        let runs = cluster.directory.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let endpoint = try cluster.startCoordinator()
        cluster.startWorker("w1", endpoint: endpoint, runner: CheckpointRunner(directory: runs))
        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let results = try cluster.leaderboard().results(experimentID: 1)
        XCTAssertEqual(results.map(\.checkpointPath), [nil])
        XCTAssertFalse(cluster.logs.contains("requesting checkpoint"))
    }
}

final class CoordinatorRestartTests: XCTestCase {
    /// A coordinator that disappears mid-experiment (no goodbye, no final writes) and a new one on the same
    /// database, given the trials the way the CLI does: DONE ones left out, attempts so far from the store.
    func testARestartedCoordinatorResumesWithoutRerunningOrDoubleStoring() throws {
        let cluster = try ClusterHarness(trials: 8)
        defer { cluster.shutdown() }
        let first = try cluster.launchCoordinator()
        let runner = RecordingRunner(FakeRunner(delay: 0.03))
        cluster.startWorker("w1", endpoint: first.endpoint, runner: runner, slots: 2)
        try waitUntil(timeout: 10) {
            let trials = (try? cluster.leaderboard().trials(experimentID: 1)) ?? []
            return trials.filter { $0.state == .done }.count >= 2 && trials.contains { $0.state == .running }
        }
        first.stop.abandon()
        XCTAssertEqual(first.done.wait(timeout: 5), .some(nil), "the first coordinator did not stop")

        let leaderboard = try cluster.leaderboard()
        let before = try leaderboard.trials(experimentID: 1)
        let doneBefore = Dictionary(uniqueKeysWithValues: try leaderboard.results(experimentID: 1).map {
            ($0.trialID, $0.attempt)
        })
        XCTAssertEqual(Set(doneBefore.keys), Set(before.filter { $0.state == .done }.map(\.id)))
        XCTAssertLessThan(doneBefore.count, 8, "the experiment finished before the coordinator was killed")
        XCTAssertTrue(before.contains { $0.state == .running }, "nothing was RUNNING when the coordinator was killed")
        let specs = before.filter { $0.state != .done }.map { ClusterHarness.spec($0.id, attemptsSoFar: $0.attempts) }

        // Same endpoint: the worker reconnects by itself, is told BYE and registers again.
        let second = try cluster.launchCoordinator(endpoint: first.endpoint, specs: specs)
        XCTAssertEqual(second.endpoint, first.endpoint)
        XCTAssertEqual(second.done.wait(timeout: 20), .some(nil))

        let trials = try leaderboard.trials(experimentID: 1)
        XCTAssertEqual(trials.map(\.state), Array(repeating: .done, count: 8))
        let results = try leaderboard.results(experimentID: 1)
        XCTAssertEqual(results.map(\.trialID), cluster.trialIDs, "exactly one result per trial")
        for result in results {
            if let attempt = doneBefore[result.trialID] {
                XCTAssertEqual(result.attempt, attempt, "trial \(result.trialID) was stored again")
            }
        }
        let rerun = runner.assignments.filter { assignment in
            doneBefore[assignment.trialID].map { assignment.attempt > $0 } ?? false
        }
        XCTAssertEqual(rerun, [], "DONE trials were assigned again")
        for trial in before where trial.state == .running {
            let result = try XCTUnwrap(results.first { $0.trialID == trial.id })
            XCTAssertGreaterThan(result.attempt, trial.attempts, "RUNNING trial \(trial.id) was re-queued")
        }
    }
}
