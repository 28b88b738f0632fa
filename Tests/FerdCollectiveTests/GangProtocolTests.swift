import XCTest
@testable import FerdCollective

/// The gang member's protocol decisions without sockets: rendezvous, liveness, retries, frame acceptance and the ring
/// schedule, driven by frames and times given as values.
final class GangProtocolTests: XCTestCase {
    private let spec = GangSpec(gangID: 7, rank: 1, size: 3, hubEndpoint: "tcp://hub:1", timeout: 10)

    private func frame(_ type: FrameType, rank: Int = 0, gang: UInt64 = 7, size: UInt16 = 3, step: UInt64 = 0,
                       bucket: UInt32 = 0, part: UInt32 = 0, segment: UInt32 = 0) -> FrameHeader {
        FrameHeader(type: type, gangID: gang, step: step, bucket: bucket, part: part, segment: segment,
                    rank: UInt16(rank), gangSize: size)
    }

    func testRendezvousWaitsForThePeerListAndNamesTheMissingRanksOnTimeout() throws {
        var state = GangProtocol(spec: spec, at: 0)
        XCTAssertEqual(try state.receive(frame(.joined), controlPayload: { Payload.ranks([0, 1]) }, fromHub: true, at: 1), .handled)
        XCTAssertEqual(state.joinedRanks, [0, 1])
        XCTAssertNoThrow(try state.checkRendezvous(startedAt: 0, at: 9))
        XCTAssertThrowsError(try state.checkRendezvous(startedAt: 0, at: 11)) { error in
            guard case let .rendezvousTimeout(_, _, missing, _, hub)? = error as? GangError else { return XCTFail("\(error)") }
            XCTAssertEqual(missing, [2])
            XCTAssertEqual(hub, "tcp://hub:1")
        }
        let list = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]
        _ = try state.receive(frame(.peers), controlPayload: { Payload.strings(list) }, fromHub: true, at: 12)
        XCTAssertEqual(state.peers, list)
        XCTAssertNoThrow(try state.checkRendezvous(startedAt: 0, at: 50), "done once the peers are known")
    }

    func testAPeerListOfTheWrongSizeOrAnAbortEndsTheGang() {
        var state = GangProtocol(spec: spec, at: 0)
        XCTAssertThrowsError(try state.receive(frame(.peers), controlPayload: { Payload.strings(["tcp://a:1"]) },
                                               fromHub: true, at: 1)) { error in
            XCTAssertTrue("\(error)".contains("1 endpoints for a gang of 3"), "\(error)")
        }
        XCTAssertThrowsError(try state.receive(frame(.abort), controlPayload: { Array("rank 2 failed".utf8) },
                                               fromHub: true, at: 1)) { error in
            guard case let .aborted(_, _, reason)? = error as? GangError else { return XCTFail("\(error)") }
            XCTAssertEqual(reason, "rank 2 failed")
        }
    }

    func testFramesAreRoutedOrDroppedWithAReason() throws {
        var state = GangProtocol(spec: spec, at: 0)
        XCTAssertEqual(try state.receive(frame(.reduced), controlPayload: { [] }, fromHub: true, at: 1), .hubResult)
        XCTAssertEqual(try state.receive(frame(.ring, rank: 0), controlPayload: { [] }, fromHub: false, at: 1), .ringSegment)
        XCTAssertEqual(try state.receive(frame(.ring, rank: 2), controlPayload: { [] }, fromHub: false, at: 1),
                       .dropped(reason: "ring frame from rank 2, not 0"))
        XCTAssertEqual(try state.receive(frame(.reduced, gang: 8), controlPayload: { [] }, fromHub: true, at: 1),
                       .dropped(reason: "a frame of gang 8"))
        XCTAssertEqual(try state.receive(frame(.ring), controlPayload: { [] }, fromHub: true, at: 1),
                       .dropped(reason: "unexpected ring from the hub"))
    }

    func testSilenceIsCountedFromTheLastFrameOfThatPeer() throws {
        var state = GangProtocol(spec: spec, at: 0)
        _ = try state.receive(frame(.ping), controlPayload: { [] }, fromHub: true, at: 5)
        XCTAssertNoThrow(try state.checkHub(at: 15))
        XCTAssertThrowsError(try state.checkHub(at: 15.5)) { error in
            guard case .hubSilent? = error as? GangError else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try state.checkLeft(at: 10.5)) { error in
            guard case let .peerSilent(_, _, peer, _)? = error as? GangError else { return XCTFail("\(error)") }
            XCTAssertEqual(peer, 0, "the left neighbour of rank 1")
        }
        state.ringConnected(at: 10)
        XCTAssertNoThrow(try state.checkLeft(at: 19))
    }

    func testPingsAreDueOncePerHeartbeatInterval() {
        var state = GangProtocol(spec: spec, at: 0)
        let interval = spec.heartbeatInterval
        XCTAssertTrue(state.pingDue(at: 0), "the first pump pings at once")
        XCTAssertFalse(state.pingDue(at: interval / 2))
        XCTAssertTrue(state.pingDue(at: interval))
        XCTAssertFalse(state.pingDue(at: interval * 1.5))
    }

    func testRetriesGiveUpAfterTheTimeoutNamingWhoWasUnreachable() {
        let state = GangProtocol(spec: spec, at: 0)
        XCTAssertNoThrow(try state.checkRetry(to: 2, startedAt: 0, at: 10))
        XCTAssertThrowsError(try state.checkRetry(to: 2, startedAt: 0, at: 10.1)) { error in
            guard case let .peerSilent(_, _, peer, _)? = error as? GangError else { return XCTFail("\(error)") }
            XCTAssertEqual(peer, 2)
        }
        XCTAssertThrowsError(try state.checkRetry(to: nil, startedAt: 0, at: 10.1)) { error in
            guard case .hubSilent? = error as? GangError else { return XCTFail("\(error)") }
        }
    }

    func testOperationsAcceptOnlyTheFrameTheyWaitFor() {
        let state = GangProtocol(spec: spec, at: 0)
        XCTAssertNoThrow(try state.expectReduced(frame(.reduced, step: 4, bucket: 2, part: 1), payloadCount: 8, step: 4,
                                                 bucket: 2, parts: 2, bytes: { _ in 8 }))
        XCTAssertThrowsError(try state.expectReduced(frame(.reduced, step: 5, bucket: 2), payloadCount: 8, step: 4,
                                                     bucket: 2, parts: 2, bytes: { _ in 8 })) { error in
            XCTAssertTrue("\(error)".contains("expected the result of exchange 4 bucket 2"), "\(error)")
        }
        XCTAssertNoThrow(try state.expectSegment(frame(.ring, rank: 0, step: 3, segment: 2), payloadCount: 12, step: 3,
                                                 bucket: 0, part: 0, segment: 2, flags: 0, precision: .float32, bytes: 12))
        XCTAssertThrowsError(try state.expectSegment(frame(.ring, rank: 0, step: 3, segment: 1), payloadCount: 12, step: 3,
                                                     bucket: 0, part: 0, segment: 2, flags: 0, precision: .float32,
                                                     bytes: 12)) { error in
            XCTAssertTrue("\(error)".contains("expected segment 2"), "\(error)")
        }
    }

    func testTheRingScheduleCoversEverySegmentOnceAndFinishesItAtTheRankBefore() {
        for size in 2...5 {
            let members = (0..<size).map { GangProtocol(spec: GangSpec(gangID: 1, rank: $0, size: size, hubEndpoint: "h"), at: 0) }
            for phase in 0..<2 {
                for j in 0..<(size - 1) {
                    let steps = members.map { $0.ringStep(j, phase: phase) }
                    XCTAssertEqual(Set(steps.map(\.sent)).count, size, "each segment moves once per step")
                    for (rank, step) in steps.enumerated() {
                        XCTAssertEqual(step.received, steps[(rank + size - 1) % size].sent, "receives what the left sent")
                    }
                }
            }
            // After the reduce-scatter rank r holds the finished segment (r + 1) mod k: its last receive.
            for member in members {
                XCTAssertEqual(member.ringStep(size - 2, phase: 0).received, (member.rank + 1) % size)
            }
            let gathered = members.map { member in Set((0..<(size - 1)).map { member.gatherStep($0).received } + [member.rank]) }
            XCTAssertTrue(gathered.allSatisfy { $0.count == size }, "an all-gather collects every block")
        }
    }
}
