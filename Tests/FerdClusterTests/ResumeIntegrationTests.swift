import FerdDigest
import FerdLeaderboard
import Foundation
import XCTest
@testable import FerdCluster

/// Writes a resume checkpoint after every epoch (bytes that depend on trial and epoch) and offers it with the
/// METRIC, and returns a small best checkpoint with its result; continues after the epoch its resume file names. `holdAfterEpoch` makes it stop making progress
/// there (a worker that hangs), so the test can take the worker away; `beforeReporting` runs before each epoch's
/// METRIC (a test can hold the attempt there).
final class ResumingRunner: TrialRunner, @unchecked Sendable {
    let directory: URL
    let epochs: Int
    let holdAfterEpoch: Int?
    let beforeReporting: @Sendable (_ epoch: Int) -> Void
    private let lock = NSLock()
    private var resumed: [(assignment: Assignment, bytes: Data?)] = []

    init(directory: URL, epochs: Int = 3, holdAfterEpoch: Int? = nil, beforeReporting: @escaping @Sendable (Int) -> Void = { _ in }) {
        self.directory = directory
        self.epochs = epochs
        self.holdAfterEpoch = holdAfterEpoch
        self.beforeReporting = beforeReporting
    }

    /// Every assignment started, with the resume file's bytes it was given.
    var starts: [(assignment: Assignment, bytes: Data?)] { lock.withLock { resumed } }

    static func content(trialID: Int, epoch: Int) -> Data {
        Data((0..<300_000).map { UInt8(truncatingIfNeeded: ($0 &* 31) ^ (trialID &* 7) ^ (epoch &* 101)) })
    }

    func run(trial: Assignment, report: (MetricEvent) -> Void, cancelled: () -> Bool) throws -> TrialOutcome {
        try run(trial: trial, resumeFile: nil, report: report, cancelled: cancelled, aborted: { false })
    }

    func run(trial: Assignment, resumeFile: URL?, report: (MetricEvent) -> Void,
             cancelled: () -> Bool, aborted: @escaping @Sendable () -> Bool) throws -> TrialOutcome {
        let bytes = try resumeFile.map { try Data(contentsOf: $0) }
        lock.withLock { resumed.append((trial, bytes)) }
        let first = (trial.resume?.epoch ?? 0) + 1
        for epoch in first...epochs {
            if cancelled() { return .failed(reason: "stopped", retryable: true) }
            let content = Self.content(trialID: trial.trialID, epoch: epoch)
            let file = directory.appendingPathComponent("resume-\(trial.trialID)-\(trial.attempt)-\(epoch).bin")
            try content.write(to: file)
            var digest = SHA256()
            digest.update(content)
            beforeReporting(epoch)
            report(MetricEvent(epoch: epoch, trainLoss: 1, uar: 0.4, war: 0.5, learningRate: 0.01, seconds: 0.01,
                               confusion: FakeRunner.confusion,
                               resumeCheckpoint: CheckpointFile(file: file, descriptor: CheckpointDescriptor(
                                   size: content.count, sha256: digest.hexDigest()))))
            if epoch == holdAfterEpoch {
                while !cancelled() { Thread.sleep(forTimeInterval: 0.01) }
                return .failed(reason: "stopped", retryable: true)
            }
        }
        let best = Data("best weights of trial \(trial.trialID)".utf8)
        let bestFile = directory.appendingPathComponent("best-\(trial.trialID)-\(trial.attempt).bin")
        try best.write(to: bestFile)
        var digest = SHA256()
        digest.update(best)
        return .completed(TrialScores(bestEpoch: epochs, uar: 0.4, war: 0.5, perClassRecall: Array(repeating: 0.4, count: 7),
                                      confusion: FakeRunner.confusion, checkpointSHA256: digest.hexDigest(),
                                      checkpointSize: best.count, checkpointFile: bestFile))
    }
}

final class ResumeIntegrationTests: XCTestCase {
    func testAReassignedTrialContinuesFromTheLastEpochCheckpointThatReachedTheCoordinator() throws {
        let cluster = try ClusterHarness(trials: 1)
        defer { cluster.shutdown() }
        let trialID = cluster.trialIDs[0]
        let artifacts = cluster.directory.appendingPathComponent("artifacts")
        let runs = cluster.directory.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let endpoint = try cluster.startCoordinator(artifacts: artifacts)
        let hanging = ResumingRunner(directory: runs, holdAfterEpoch: 2)
        let first = cluster.startWorker("w1", endpoint: endpoint, runner: hanging, chunkSize: 64 * 1024)

        let deadline = Date().addingTimeInterval(15)
        var stored: StoredResumePoint?
        while Date() < deadline, stored?.epoch != 2 {
            stored = try cluster.leaderboard().trials(experimentID: 1).first?.resume
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(stored?.epoch, 2, "the epoch-2 checkpoint reached the coordinator")
        XCTAssertEqual(try resumeFiles(in: artifacts), ["trial-\(trialID)-resume-epoch-2.safetensors"],
                       "the epoch-1 checkpoint was deleted when epoch 2's arrived")
        first.abandon()

        let fresh = ResumingRunner(directory: runs)
        cluster.startWorker("w2", endpoint: endpoint, runner: fresh, chunkSize: 64 * 1024)
        XCTAssertEqual(cluster.waitForCoordinator(timeout: 30), .some(nil))

        let start = try XCTUnwrap(fresh.starts.first)
        XCTAssertEqual(start.assignment.attempt, 2)
        XCTAssertEqual(start.assignment.resume?.epoch, 2)
        XCTAssertEqual(start.bytes, ResumingRunner.content(trialID: trialID, epoch: 2),
                       "the worker got the epoch-2 checkpoint byte for byte")
        let trial = try XCTUnwrap(cluster.leaderboard().trials(experimentID: 1).first)
        XCTAssertEqual(trial.state, .done)
        let result = try XCTUnwrap(cluster.leaderboard().results(experimentID: 1).first)
        let bestPath = try XCTUnwrap(result.checkpointPath, "the best checkpoint was stored")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: bestPath)), Data("best weights of trial \(trialID)".utf8))
        XCTAssertNil(trial.resume, "a DONE trial whose best checkpoint is stored keeps no resume checkpoint")
        XCTAssertEqual(try resumeFiles(in: artifacts), [], "nor its file, even one that arrived after the result")
        let metrics = try cluster.leaderboard().epochMetrics(experimentID: 1).filter { $0.trialID == trialID }
        XCTAssertEqual(metrics.filter { $0.attempt == 2 }.map(\.epoch), [3], "attempt 2 trained only epoch 3")
    }

    /// A worker asked to leave while its attempt ends an epoch sends that epoch's resume checkpoint whole before
    /// it says BYE, so the next attempt continues after that epoch (it used to leave mid-upload: the coordinator
    /// rejected the transfer and the next attempt redid the epoch).
    func testAWorkerLeavingAfterAnEpochFinishesUploadingItsResumeCheckpoint() throws {
        let cluster = try ClusterHarness(trials: 1)
        defer { cluster.shutdown() }
        try leaveWhileEpoch2Ends(cluster, artifacts: cluster.directory.appendingPathComponent("artifacts"))
        XCTAssertFalse(cluster.logs.contains("checkpoint uploads unfinished"))
        var stored: StoredResumePoint?
        let storeDeadline = Date().addingTimeInterval(5)
        while Date() < storeDeadline, stored?.epoch != 2 {
            stored = try cluster.leaderboard().trials(experimentID: 1).first?.resume
            Thread.sleep(forTimeInterval: 0.05)
        }
        XCTAssertEqual(stored?.epoch, 2, "the epoch-2 resume checkpoint reached the coordinator")
        XCTAssertFalse(cluster.logs.contains("checkpoint rejected"), cluster.logs.lines(containing: "checkpoint").joined(separator: "\n"))
    }

    /// A coordinator that keeps no checkpoints asks for none, and a leaving worker does not wait for them.
    func testAWorkerLeavingDoesNotWaitForCheckpointsNobodyAskedFor() throws {
        let cluster = try ClusterHarness(trials: 1)
        defer { cluster.shutdown() }
        try leaveWhileEpoch2Ends(cluster, artifacts: nil)
        XCTAssertFalse(cluster.logs.contains("checkpoint uploads unfinished"), "nothing was asked for, nothing awaited")
    }

    /// Runs a ``ResumingRunner`` whose epochs offer 300 kB resume checkpoints in 512-byte chunks (hundreds of credit
    /// round trips, far longer than the acknowledgement of the METRIC and the interruption), asks its worker to
    /// leave while epoch 2 ends, and waits until the worker has said BYE.
    private func leaveWhileEpoch2Ends(_ cluster: ClusterHarness, artifacts: URL?) throws {
        let runs = cluster.directory.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs, withIntermediateDirectories: true)
        let endpoint = try cluster.startCoordinator(artifacts: artifacts)
        let atEpoch2 = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let runner = ResumingRunner(directory: runs, epochs: 3) { epoch in
            guard epoch == 2 else { return }
            atEpoch2.signal()
            release.wait()
        }
        let stop = cluster.startWorker("w1", endpoint: endpoint, runner: runner, chunkSize: 512)
        XCTAssertEqual(atEpoch2.wait(timeout: .now() + 15), .success, "the attempt reached epoch 2")
        stop.finishEpochs()
        let asked = Date().addingTimeInterval(10)
        while Date() < asked, !cluster.logs.contains("leaving after the current epoch") { Thread.sleep(forTimeInterval: 0.01) }
        release.signal()
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !cluster.logs.contains("worker leaving") { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertTrue(cluster.logs.contains("worker leaving"), "the worker left")
    }

    private func resumeFiles(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.contains("resume") }.sorted()
    }
}
