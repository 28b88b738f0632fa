import FerdZeroMQ
import XCTest
@testable import FerdCluster

final class ZMQSocketTests: XCTestCase {
    func testRouterAndDealerExchangeMultipartMessagesOverTCP() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setRouterMandatory(true)
        try router.setMaxMessageSize(WireFormat.maxMessageSize)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"))

        let dealer = try ZMQSocket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.setRoutingID(Array("w1".utf8))
        try dealer.setHighWaterMarks(send: 100, receive: 100)
        try dealer.connect(endpoint)
        try dealer.send([[1, 2, 3]])

        let received = try receive(on: router)
        XCTAssertEqual(received, [Array("w1".utf8), [1, 2, 3]])
        try router.send([Array("w1".utf8), [], [9]])
        XCTAssertEqual(try receive(on: dealer), [[], [9]])
        XCTAssertNil(try dealer.receive())
    }

    func testMandatoryRouterReportsAnUnknownPeerAsUnreachable() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setRouterMandatory(true)
        try router.bind("inproc://mandatory")
        XCTAssertThrowsError(try router.send([Array("nobody".utf8), [1]])) { error in
            let error = error as? ZMQError
            XCTAssertEqual(error?.peerUnreachable, true)
            XCTAssertEqual(error?.endpoint, "inproc://mandatory")
            XCTAssertTrue(error?.description.contains("inproc://mandatory") ?? false)
            XCTAssertTrue(error?.description.contains("Host unreachable") ?? false, "\(String(describing: error))")
        }
    }

    func testBindErrorNamesTheEndpointAndTheReason() throws {
        let context = try ZMQContext()
        let first = try ZMQSocket(context, type: .router)
        try first.setLinger(milliseconds: 0)
        try first.bind("inproc://taken")
        let second = try ZMQSocket(context, type: .router)
        try second.setLinger(milliseconds: 0)
        XCTAssertThrowsError(try second.bind("inproc://taken")) { error in
            XCTAssertEqual((error as? ZMQError)?.operation, "bind")
            XCTAssertTrue("\(error)".contains("inproc://taken"), "\(error)")
            XCTAssertTrue("\(error)".contains("in use"), "\(error)")
        }
    }

    func testPollTimesOutWhenNothingArrives() throws {
        let context = try ZMQContext()
        let dealer = try ZMQSocket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.bind("inproc://quiet")
        let start = Date()
        XCTAssertFalse(try dealer.poll(timeoutMilliseconds: 30))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.025)
    }

    func testOversizedMessagesAreNotDelivered() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setMaxMessageSize(1024)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 0)
        try dealer.connect(try router.lastEndpoint())
        try dealer.send([[UInt8](repeating: 7, count: 4096)])
        XCTAssertFalse(try router.poll(timeoutMilliseconds: 200))
    }

    private func receive(on socket: ZMQSocket) throws -> [[UInt8]]? {
        guard try socket.poll(timeoutMilliseconds: 2_000) else { return nil }
        return try socket.receive()
    }
}
