import XCTest
@testable import FerdCluster

/// The scheduler decides which checkpoints move: a resume checkpoint newer than the trial's resume point is
/// fetched, a result's best checkpoint is fetched (or, without one, the resume point is discarded), and a
/// re-assigned trial's resume checkpoint is offered to its worker before the ASSIGN.
final class SchedulerCheckpointTests: XCTestCase {
    private let descriptor = CheckpointDescriptor(size: 100, sha256: String(repeating: "c", count: 64))

    private func running() -> Scheduler {
        var scheduler = Scheduler()
        scheduler.enqueue(1...1)
        scheduler.join("a")
        return scheduler
    }

    private func metric(epoch: Int, checkpoint: CheckpointDescriptor?) -> MetricReport {
        MetricReport(trialID: 1, attempt: 1, epoch: epoch, trainLoss: 1, uar: 0.3, war: 0.4, learningRate: 1e-4, seconds: 1,
                     confusion: Fixtures.result.confusion, resumeCheckpoint: checkpoint)
    }

    func testANewerResumeCheckpointIsFetchedAndAnOlderOneIsNot() {
        var scheduler = running()
        let announced = metric(epoch: 2, checkpoint: descriptor)
        XCTAssertTrue(scheduler.receive(.metric(announced), from: "a", at: 1).contains(.fetchResumeCheckpoint(announced, from: "a")))
        _ = scheduler.handle(.resumePointStored(trialID: 1, ResumePoint(epoch: 2, checkpoint: descriptor)))
        let stale = metric(epoch: 2, checkpoint: descriptor)
        XCTAssertFalse(scheduler.receive(.metric(stale), from: "a", at: 2).contains { if case .fetchResumeCheckpoint = $0 { true } else { false } })
        let none = metric(epoch: 3, checkpoint: nil)
        XCTAssertFalse(scheduler.receive(.metric(none), from: "a", at: 3).contains { if case .fetchResumeCheckpoint = $0 { true } else { false } })
    }

    func testAResultFetchesItsBestCheckpointOrDiscardsTheResumePoint() {
        var scheduler = running()
        var report = Fixtures.result
        report.trialID = 1
        report.attempt = 1
        XCTAssertTrue(scheduler.receive(.result(report), from: "a", at: 1).contains(.fetchBestCheckpoint(report, from: "a")))
        var other = running()
        report.checkpointSize = 0
        XCTAssertTrue(other.receive(.result(report), from: "a", at: 1).contains(.discardResumePoint(trialID: 1)))
    }

    func testAReassignedTrialOffersItsResumeCheckpointBeforeTheAssign() {
        var scheduler = Scheduler()
        let point = ResumePoint(epoch: 3, checkpoint: descriptor)
        _ = scheduler.handle(.enqueue([Scheduler.TrialSpec(id: 1, configJSON: "{}", resume: point)]))
        let actions = scheduler.join("b")
        guard let offer = actions.firstIndex(where: { if case .offerResumeCheckpoint = $0 { true } else { false } }),
              let assign = actions.firstIndex(where: { if case .send(.assign, _) = $0 { true } else { false } }) else {
            return XCTFail("\(actions)")
        }
        XCTAssertLessThan(offer, assign)
    }
}
