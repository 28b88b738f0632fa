import XCTest
@testable import FerdCollective

/// A gang member's protocol without sockets or clocks: the rendezvous, heartbeats, silence, stalled sends,
/// failure and leaving, driven by events with their times given as values.
final class GangProtocolTests: XCTestCase {
    /// Rank 1 of 3: its left neighbour is rank 0, its right neighbour rank 2.
    private let ring = GangSpec(gangID: 7, rank: 1, size: 3, topology: .ring, hubEndpoint: "tcp://hub:1", timeout: 10)
    private let star = GangSpec(gangID: 7, rank: 1, size: 3, topology: .star, hubEndpoint: "tcp://hub:1", timeout: 10)
    private let endpoints = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]

    private func fromHub(_ type: FrameType, _ bytes: [UInt8] = [], gang: UInt64 = 7, size: UInt16 = 3,
                         at time: Double) -> GangProtocol.Event {
        .received(FrameHeader(type: type, gangID: gang, rank: 0, gangSize: size, payloadLength: UInt32(bytes.count)),
                  from: .hub, bytes: bytes, at: time)
    }

    private func fromLeft(_ type: FrameType, rank: UInt16 = 0, at time: Double) -> GangProtocol.Event {
        .received(FrameHeader(type: type, gangID: 7, rank: rank, gangSize: 3), from: .left, bytes: [], at: time)
    }

    /// A member whose rendezvous completed at time 0.
    private func joined(_ spec: GangSpec) -> GangProtocol {
        var state = GangProtocol(spec: spec)
        _ = state.handle(.started(ringEndpoint: "tcp://b:1", at: 0))
        _ = state.handle(fromHub(.peers, Payload.peers(endpoints.map { Payload.Peer(endpoint: $0) }), at: 0))
        return state
    }

    private func ping(to destination: GangProtocol.Destination) -> GangProtocol.Action {
        .notify(FrameHeader(type: .ping, gangID: 7, rank: 1, gangSize: 3), [], to: destination)
    }

    /// The ABORT a member sends the hub when it fails with `error`.
    private func abort(_ error: GangError) -> GangProtocol.Action {
        let reason = Array(error.description.utf8)
        return .notify(FrameHeader(type: .abort, gangID: 7, rank: 1, gangSize: 3, payloadLength: UInt32(reason.count)),
                       reason, to: .hub)
    }

    private func failure(_ error: GangError) -> [GangProtocol.Action] { [.fail(error), abort(error)] }

    private let reduction = GangProtocol.Job.reduce(count: 4, average: true, step: 1, bucket: 0, inStep: true)

    // MARK: rendezvous

    func testJoinCarriesTheRingEndpointAndThePeerListConnectsTheRing() {
        var state = GangProtocol(spec: ring)
        let join = Payload.join(timeout: 10, ringEndpoint: "tcp://b:1")
        XCTAssertEqual(state.handle(.started(ringEndpoint: "tcp://b:1", at: 0)), [
            .send(FrameHeader(type: .join, gangID: 7, rank: 1, gangSize: 3, payloadLength: UInt32(join.count)),
                  .bytes(join), to: .hub),
        ])
        XCTAssertEqual(state.awaiting, .frames)
        XCTAssertEqual(state.handle(fromHub(.joined, Payload.ranks([0, 1]), at: 1)), [])
        XCTAssertEqual(state.joinedRanks, [0, 1])
        XCTAssertEqual(state.handle(fromHub(.peers, Payload.peers(endpoints.map { Payload.Peer(endpoint: $0) }), at: 2)),
                       [.connectRing(rank: 2, endpoint: "tcp://c:1", serverKey: nil), .ready])
        XCTAssertEqual(state.peers, endpoints)
        XCTAssertEqual(state.awaiting, .jobs)
        XCTAssertEqual(state.handle(.tick(at: 100)), [ping(to: .hub), ping(to: .right)], "an idle member never times out")
    }

    func testTheStarNeedsNoRingConnection() {
        var state = GangProtocol(spec: star)
        _ = state.handle(.started(ringEndpoint: "", at: 0))
        XCTAssertEqual(state.handle(fromHub(.peers, Payload.peers(["", "", ""].map { Payload.Peer(endpoint: $0) }), at: 1)), [.ready])
    }

    func testTheRendezvousTimeoutNamesTheRanksThatDidNotJoin() {
        var state = GangProtocol(spec: ring)
        _ = state.handle(.started(ringEndpoint: "tcp://b:1", at: 0))
        _ = state.handle(fromHub(.joined, Payload.ranks([0, 1]), at: 1))
        XCTAssertEqual(state.handle(.tick(at: 10)), [ping(to: .hub)], "no ring to ping before the rendezvous")
        let timeout = GangError.rendezvousTimeout(gangID: 7, rank: 1, missingRanks: [2], seconds: 10.5,
                                                  hub: "tcp://hub:1")
        XCTAssertEqual(state.handle(.tick(at: 10.5)), failure(timeout))
        XCTAssertTrue(timeout.description.contains("rank(s) 2 did not join at the hub tcp://hub:1"), timeout.description)
        XCTAssertFalse(state.isActive)
        XCTAssertEqual(state.handle(fromHub(.peers, Payload.peers(endpoints.map { Payload.Peer(endpoint: $0) }), at: 11)), [], "too late")
    }

    func testAMalformedPeerListFailsTheRendezvous() {
        var state = GangProtocol(spec: ring)
        _ = state.handle(.started(ringEndpoint: "tcp://b:1", at: 0))
        let actions = state.handle(fromHub(.peers, [1, 2], at: 1))
        let violation = GangError.protocolViolation(gangID: 7, rank: 1,
                                                    detail: "peer list: malformed payload: block list of 2 bytes")
        XCTAssertEqual(actions, failure(violation))
        XCTAssertNil(state.peers)
    }

    func testAPeerListOfTheWrongSizeFailsTheRendezvous() {
        var state = GangProtocol(spec: ring)
        _ = state.handle(.started(ringEndpoint: "tcp://b:1", at: 0))
        XCTAssertEqual(state.handle(fromHub(.peers, Payload.peers([Payload.Peer(endpoint: "tcp://a:1")]), at: 1)),
                       failure(.protocolViolation(gangID: 7, rank: 1, detail: "the hub sent 1 endpoints for a gang of 3")))
    }

    // MARK: arrivals

    func testFramesOfOtherGangsAndOutOfPlaceFramesAreDropped() {
        var state = joined(ring)
        XCTAssertEqual(state.handle(fromHub(.ping, gang: 8, at: 1)), [.drop(reason: "a frame of gang 8")])
        XCTAssertEqual(state.handle(fromHub(.ping, size: 4, at: 1)), [.drop(reason: "a frame of gang 7")])
        XCTAssertEqual(state.handle(fromHub(.ring, at: 1)), [.drop(reason: "unexpected ring from the hub")])
        XCTAssertEqual(state.handle(fromLeft(.ring, rank: 2, at: 1)), [.drop(reason: "ring frame from rank 2, not 0")])
        XCTAssertEqual(state.handle(fromLeft(.reduced, at: 1)), [.drop(reason: "unexpected reduced on the ring")])
        XCTAssertTrue(state.isActive)
    }

    // MARK: liveness

    func testHeartbeatsGoToTheHubAndTheRightNeighbourOncePerInterval() {
        var state = joined(ring)
        XCTAssertEqual(ring.heartbeatInterval, 1)
        XCTAssertEqual(state.handle(.tick(at: 0)), [ping(to: .hub), ping(to: .right)])
        XCTAssertEqual(state.handle(.tick(at: 0.5)), [])
        XCTAssertEqual(state.handle(.tick(at: 1)), [ping(to: .hub), ping(to: .right)])
        XCTAssertEqual(state.handle(.sendStalled(to: .right, since: 1, at: 2)), [ping(to: .hub), ping(to: .right)],
                       "a stalled send keeps the heartbeats going")
        var starMember = joined(star)
        XCTAssertEqual(starMember.handle(.tick(at: 0)), [ping(to: .hub)])
        XCTAssertEqual(GangSpec(gangID: 1, rank: 0, size: 2, hubEndpoint: "h", timeout: 2).heartbeatInterval, 0.5,
                       "a quarter of a short timeout")
    }

    func testAStarExchangeFailsWhenTheHubIsSilentForTheTimeout() {
        var state = joined(star)
        _ = state.handle(fromHub(.ping, at: 95))
        _ = state.handle(.submitted(reduction, id: 0, at: 100))
        XCTAssertEqual(state.handle(.tick(at: 105)).filter(\.isFailure), [], "heard 10 s ago")
        XCTAssertEqual(state.handle(.tick(at: 105.5)),
                       failure(.hubSilent(gangID: 7, rank: 1, hub: "tcp://hub:1", seconds: 10.5)))
    }

    func testARingExchangeFailsWhenTheLeftNeighbourIsSilentForTheTimeout() {
        var state = joined(ring)
        _ = state.handle(.submitted(reduction, id: 0, at: 1))
        _ = state.handle(fromLeft(.ping, at: 2))
        XCTAssertEqual(state.handle(.tick(at: 12)).filter(\.isFailure), [],
                       "the hub's silence does not matter to a ring exchange")
        XCTAssertEqual(state.handle(.tick(at: 12.5)).filter(\.isFailure),
                       failure(.peerSilent(gangID: 7, rank: 1, peer: 0, seconds: 10.5)))
    }

    func testAStalledSendGivesUpAfterTheTimeoutNamingWhomItWasFor() {
        var state = joined(ring)
        _ = state.handle(.submitted(reduction, id: 0, at: 1))
        XCTAssertEqual(state.handle(.sendStalled(to: .right, since: 14, at: 24)).filter(\.isFailure), [],
                       "while a send is stalled only the stall counts, not the left neighbour's silence")
        XCTAssertEqual(state.handle(.sendStalled(to: .right, since: 14, at: 24.5)).filter(\.isFailure),
                       failure(.peerSilent(gangID: 7, rank: 1, peer: 2, seconds: 10.5)))
        var joining = GangProtocol(spec: ring)
        _ = joining.handle(.started(ringEndpoint: "tcp://b:1", at: 0))
        XCTAssertEqual(joining.handle(.sendStalled(to: .hub, since: 0, at: 10.5)).filter(\.isFailure),
                       failure(.hubSilent(gangID: 7, rank: 1, hub: "tcp://hub:1", seconds: 10.5)))
    }

    // MARK: failure and leaving

    func testAnAbortFromTheHubFailsTheMemberWithoutAnsweringIt() {
        var state = joined(star)
        XCTAssertEqual(state.handle(fromHub(.abort, Array("rank 2 failed".utf8), at: 1)),
                       [.fail(.aborted(gangID: 7, rank: 1, reason: "rank 2 failed"))])
        XCTAssertEqual(state.awaiting, .nothing)
        XCTAssertEqual(state.handle(.tick(at: 100)), [], "a failed member does nothing more")
    }

    func testAMemberThatFailsTellsTheHubWhy() {
        var cancelled = joined(ring)
        XCTAssertEqual(cancelled.handle(.cancelled), failure(.cancelled(gangID: 7, rank: 1)))
        var broken = joined(ring)
        let transport = GangError.transport(gangID: 7, rank: 1, detail: "cannot connect to rank 2 at tcp://c:1")
        XCTAssertEqual(broken.handle(.failed(transport)), failure(transport))
        XCTAssertEqual(broken.handle(.cancelled), [], "the first failure is the one reported")
    }

    func testClosingLeavesOnceTheSubmittedJobsAreDone() {
        let leave = GangProtocol.Action.notify(FrameHeader(type: .leave, gangID: 7, rank: 1, gangSize: 3), [], to: .hub)
        var idle = joined(ring)
        XCTAssertEqual(idle.handle(.closeRequested), [leave])
        XCTAssertFalse(idle.isActive)
        XCTAssertEqual(idle.handle(.closeRequested), [], "LEAVE is sent once")

        var busy = joined(GangSpec(gangID: 7, rank: 1, size: 3, topology: .star, hubEndpoint: "tcp://hub:1"))
        _ = busy.handle(.submitted(.reduce(count: 1, average: false, step: 1, bucket: 0, inStep: false), id: 0, at: 1))
        XCTAssertEqual(busy.handle(.closeRequested), [])
        XCTAssertTrue(busy.isActive)
        let result = FrameHeader(type: .reduced, gangID: 7, step: 1, rank: 0, gangSize: 3, payloadLength: 4)
        let actions = busy.handle(.received(result, from: .hub, bytes: [], at: 2))
        XCTAssertEqual(actions.last, leave, "\(actions)")
        XCTAssertFalse(busy.isActive)

        var failed = joined(ring)
        _ = failed.handle(.cancelled)
        XCTAssertEqual(failed.handle(.closeRequested), [leave], "a failed member still says goodbye")
    }
}

extension GangProtocol.Action {
    /// A failure or the ABORT that tells the hub about it.
    var isFailure: Bool {
        switch self {
        case .fail: true
        case .notify(let header, _, _): header.type == .abort
        default: false
        }
    }
}
