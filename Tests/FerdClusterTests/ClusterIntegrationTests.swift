import FerdZeroMQ
import FerdLeaderboard
import Foundation
import XCTest
@testable import FerdCluster

final class ClusterIntegrationTests: XCTestCase {
    func testTwoWorkersCompleteSixTrialsEachStoredOnce() throws {
        let cluster = try ClusterHarness(trials: 6)
        defer { cluster.shutdown() }
        let endpoint = try cluster.startCoordinator()
        cluster.startWorker("w1", endpoint: endpoint, runner: FakeRunner())
        cluster.startWorker("w2", endpoint: endpoint, runner: FakeRunner(), slots: 2)

        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let leaderboard = try cluster.leaderboard()
        let trials = try leaderboard.trials(experimentID: 1)
        XCTAssertEqual(trials.map(\.state), Array(repeating: .done, count: 6))
        let results = try leaderboard.results(experimentID: 1)
        XCTAssertEqual(results.map(\.trialID), cluster.trialIDs)
        XCTAssertTrue(results.allSatisfy { $0.confusion == FakeRunner.confusion })
        let epochMetrics = try leaderboard.epochMetrics(experimentID: 1)
        XCTAssertEqual(epochMetrics.count, 12)
        XCTAssertTrue(epochMetrics.allSatisfy { $0.confusion == FakeRunner.epochConfusion($0.epoch) })
        XCTAssertEqual(Set(try leaderboard.workers().map(\.id)), ["w1", "w2"])
    }

    func testTrialOfAVanishedWorkerIsLostAndRerunElsewhere() throws {
        let cluster = try ClusterHarness(trials: 2)
        defer { cluster.shutdown() }
        let endpoint = try cluster.startCoordinator()
        let started = Rendezvous<Int>()
        let doomed = cluster.startWorker("doomed", endpoint: endpoint, runner: BlockingRunner(started: started))
        let stuckTrial = try XCTUnwrap(started.wait(timeout: 5), "the doomed worker never started a trial")
        cluster.startWorker("survivor", endpoint: endpoint, runner: FakeRunner())
        doomed.abandon()

        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let leaderboard = try cluster.leaderboard()
        XCTAssertEqual(try leaderboard.trials(experimentID: 1).map(\.state), [.done, .done])
        let rerun = try XCTUnwrap(try leaderboard.results(experimentID: 1).first { $0.trialID == stuckTrial })
        XCTAssertEqual(rerun.attempt, 2)
        let events = try leaderboard.recentEvents(limit: 50).map(\.text)
        XCTAssertTrue(events.contains { $0.contains("trial \(stuckTrial) attempt 1 LOST") }, "\(events)")
        XCTAssertTrue(events.contains { $0.contains("worker doomed gone") }, "\(events)")
    }

    func testCurveAdmitsOnlyWorkersWithAllowListedKeys() throws {
        let cluster = try ClusterHarness(trials: 2)
        defer { cluster.shutdown() }
        let allowList = cluster.directory.appendingPathComponent("workers")
        try FileManager.default.createDirectory(at: allowList, withIntermediateDirectories: true)
        let server = try CurveKeyPair.generate()
        let known = try CurveKeyPair.generate()
        try KeyFiles.save(known, name: "known", in: allowList)
        let endpoint = try cluster.startCoordinator(curve: CurveServerKeys(keyPair: server, allowListDirectory: allowList))

        cluster.startWorker("stranger", endpoint: endpoint, runner: FakeRunner(),
                            curve: CurveClientKeys(serverKey: server.publicKey, keyPair: try CurveKeyPair.generate()))
        try waitUntil(timeout: 5) { cluster.logs.contains("not in the allow-list") }
        XCTAssertTrue(try cluster.leaderboard().workers().isEmpty)

        cluster.startWorker("known", endpoint: endpoint, runner: FakeRunner(), curve: CurveClientKeys(serverKey: server.publicKey, keyPair: known))
        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        let leaderboard = try cluster.leaderboard()
        XCTAssertEqual(try leaderboard.results(experimentID: 1).count, 2)
        XCTAssertEqual(try leaderboard.workers().map(\.id), ["known"])
    }

    func testGarbageFramesDoNotStopTheCoordinator() throws {
        let cluster = try ClusterHarness(trials: 2)
        defer { cluster.shutdown() }
        let endpoint = try cluster.startCoordinator()
        let context = try ZMQContext()
        let intruder = try ZMQSocket(context, type: .dealer)
        try intruder.setLinger(milliseconds: 0)
        try intruder.setRoutingID(Array("intruder".utf8))
        try intruder.connect(endpoint)
        let wrongVersion = Fixtures.frame(type: MessageType.heartbeat.rawValue, body: [], version: 99)
        for frames in [[[0xFF, 0x00, 0x13]], [Array("FERD".utf8)], [wrongVersion], [[], [1, 2]],
                       [Fixtures.frame(type: 200, body: [])]] as [[[UInt8]]] {
            try intruder.send(frames)
        }
        try intruder.send([try Message.heartbeat(Heartbeat(sequence: 1, timestamp: 0)).encode()])
        XCTAssertTrue(try intruder.poll(timeoutMilliseconds: 5_000))
        XCTAssertEqual(try intruder.receive().map { try Message.decode($0[0]) }, .bye)

        cluster.startWorker("w1", endpoint: endpoint, runner: FakeRunner())
        XCTAssertEqual(cluster.waitForCoordinator(), .some(nil))
        XCTAssertEqual(try cluster.leaderboard().results(experimentID: 1).count, 2)
        XCTAssertTrue(cluster.logs.contains("dropped a message from intruder"))
        let dropped = try cluster.leaderboard().droppedMessages().filter { $0.peer == "intruder" }
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: dropped.map { ($0.kind, $0.count) }),
                       ["undecodable": 4, "frame-count": 1, "unexpected": 1], "\(dropped)")
        intruder.close()
    }
}
