import FerdSystem
import XCTest

/// The bad-traffic policy as pure logic: hand-made message sequences and times in, reports and counts out.
final class TrafficGuardTests: XCTestCase {
    private func drop(_ peer: String, _ kind: String = "undecodable") -> TrafficGuard.Drop {
        TrafficGuard.Drop(peer: peer, address: "tcp://10.0.0.9:4242", kind: kind, detail: "bad magic")
    }

    func testAFloodFromOnePeerLogsTheFirstDropThenASummaryPerInterval() {
        var traffic = TrafficGuard(configuration: withoutIgnoring())
        var reports: [TrafficGuard.Report] = []
        // 100 messages a second for 95 s.
        for step in 0..<9_500 {
            let time = Double(step) / 100
            reports += traffic.dropped(drop("x"), at: time)
            reports += traffic.tick(at: time)
        }
        XCTAssertEqual(reports.first, .first(drop("x")))
        let summaries = reports.dropFirst()
        XCTAssertEqual(summaries.count, 3, "one summary per 30 s: \(reports)")
        var total = 1
        for case let .summary(kind, count, peers, busiest, busiestCount, seconds) in summaries {
            XCTAssertEqual(kind, "undecodable")
            XCTAssertEqual(peers, 1)
            XCTAssertEqual(busiest, "x")
            XCTAssertEqual(busiestCount, count)
            XCTAssertEqual(seconds, 30, accuracy: 0.011)
            total += count
        }
        XCTAssertEqual(total, 9_001, "every drop until the last summary is accounted for")
        XCTAssertEqual(traffic.takeCounts().map(\.count), [9_500])
        XCTAssertTrue(traffic.takeCounts().isEmpty, "taken counts are forgotten")
    }

    func testEachKindAndEachPeerGetsItsOwnFirstReport() {
        var traffic = TrafficGuard(configuration: withoutIgnoring())
        var firsts: [TrafficGuard.Drop] = []
        for (peer, kind) in [("a", "frame-count"), ("a", "undecodable"), ("b", "frame-count"), ("a", "frame-count")] {
            for case let .first(drop) in traffic.dropped(drop(peer, kind), at: 1) { firsts.append(drop) }
        }
        XCTAssertEqual(firsts.map { "\($0.peer) \($0.kind)" }, ["a frame-count", "a undecodable", "b frame-count"])
    }

    func testAPeerQuietForAnIntervalIsReportedAgain() {
        var traffic = TrafficGuard(configuration: withoutIgnoring())
        XCTAssertEqual(traffic.dropped(drop("a"), at: 0).count, 1)
        XCTAssertEqual(traffic.dropped(drop("a"), at: 29).count, 0)
        XCTAssertEqual(traffic.tick(at: 30).count, 1, "the one counted drop is summarised")
        XCTAssertEqual(traffic.dropped(drop("a"), at: 58).count, 0, "29 s after its last drop: still counted only")
        XCTAssertEqual(traffic.dropped(drop("a"), at: 90).count, 1, "quiet for 32 s: reported again")
    }

    func testManyNewPeersAreSummarisedNotEachLogged() {
        var traffic = TrafficGuard(configuration: withoutIgnoring())
        var reports: [TrafficGuard.Report] = []
        for index in 0..<1_000 {
            reports += traffic.dropped(drop("peer-\(index)"), at: Double(index) / 100)
        }
        reports += traffic.tick(at: 30)
        XCTAssertEqual(reports.filter { if case .first = $0 { true } else { false } }.count, 5)
        guard case let .summary(_, count, peers, _, busiestCount, _) = reports.last else {
            return XCTFail("no summary: \(reports)")
        }
        XCTAssertEqual(count, 995)
        XCTAssertEqual(peers, 995)
        XCTAssertEqual(busiestCount, 1)
    }

    func testAPeerThatSendsOnlyGarbageIsIgnoredForLongerEachTime() {
        var configuration = TrafficGuard.Configuration()
        configuration.strikeLimit = 10
        configuration.ignoreSeconds = 5
        configuration.maximumIgnoreSeconds = 12
        var traffic = TrafficGuard(configuration: configuration)
        var time = 0.0
        var ignoring: [Double] = []
        func flood() {
            for _ in 0..<10 {
                XCTAssertTrue(traffic.admit("x", at: time))
                for case let .ignoring(_, address, seconds, strikes) in traffic.dropped(drop("x"), at: time) {
                    XCTAssertEqual(strikes, 10)
                    XCTAssertEqual(address, "tcp://10.0.0.9:4242")
                    ignoring.append(seconds)
                }
                time += 0.01
            }
        }
        flood()
        XCTAssertEqual(ignoring, [5])
        XCTAssertFalse(traffic.admit("x", at: time), "ignored")
        XCTAssertTrue(traffic.admit("good", at: time), "other peers are not affected")
        time += 5
        flood()
        time += 10
        flood()
        XCTAssertEqual(ignoring, [5, 10, 12], "doubling, capped")
        let counts = traffic.takeCounts()
        XCTAssertEqual(counts.first { $0.kind == TrafficGuard.ignoredKind }?.count, 1, "the refused message is counted")
        XCTAssertEqual(counts.first { $0.kind == "undecodable" }?.count, 30)
    }

    func testAGoodMessageClearsTheStrikes() {
        var configuration = TrafficGuard.Configuration()
        configuration.strikeLimit = 3
        var traffic = TrafficGuard(configuration: configuration)
        for step in 0..<30 {
            _ = traffic.dropped(drop("w"), at: Double(step))
            if step % 2 == 1 { traffic.accepted("w") }
        }
        XCTAssertFalse(traffic.isIgnoring("w", at: 30), "a worker with an occasional bad message is never ignored")
    }

    func testMemoryIsBoundedWhateverThePeerCount() {
        var configuration = withoutIgnoring()
        configuration.trackedPeers = 16
        var traffic = TrafficGuard(configuration: configuration)
        for index in 0..<10_000 {
            _ = traffic.dropped(drop("peer-\(index)"), at: Double(index))
        }
        let counts = traffic.takeCounts()
        XCTAssertLessThanOrEqual(counts.count, 17, "16 peers and the others")
        XCTAssertEqual(counts.reduce(0) { $0 + $1.count }, 10_000, "every drop counted")
        XCTAssertEqual(counts.first { $0.peer == TrafficGuard.otherPeers }?.count, 10_000 - 16)
        let remembered = counts.filter { $0.peer != TrafficGuard.otherPeers }
        XCTAssertEqual(Set(remembered.map(\.peer)).count, remembered.count)
    }

    func testAnIgnoredPeerStaysRememberedWhileNewPeersArrive() {
        var configuration = TrafficGuard.Configuration()
        configuration.strikeLimit = 2
        configuration.trackedPeers = 4
        var traffic = TrafficGuard(configuration: configuration)
        _ = traffic.dropped(drop("x"), at: 0)
        _ = traffic.dropped(drop("x"), at: 0)
        XCTAssertTrue(traffic.isIgnoring("x", at: 1))
        for index in 0..<20 {
            _ = traffic.dropped(drop("new-\(index)"), at: 1)
        }
        XCTAssertTrue(traffic.isIgnoring("x", at: 2), "not forgotten while ignored")
    }

    func testReportsReadAsSentences() {
        XCTAssertEqual(TrafficGuard.Report.first(drop("x")).message,
                       "dropped a message from x at tcp://10.0.0.9:4242: bad magic "
                       + "(more of this kind from this peer are counted, not logged)")
        XCTAssertEqual(TrafficGuard.Report.summary(kind: "frame-count", count: 5_595, peers: 3, busiest: "0x00ab",
                                                   busiestCount: 5_000, seconds: 30).message,
                       "dropped 5595 more messages of kind frame-count in the last 30 s from 3 peers, the most (5000) from 0x00ab")
        XCTAssertEqual(TrafficGuard.Report.ignoring(peer: "x", address: nil, seconds: 60, strikes: 20).message,
                       "ignoring x for 60 s: its last 20 messages were all dropped")
    }

    private func withoutIgnoring() -> TrafficGuard.Configuration {
        .neverIgnoring
    }
}
