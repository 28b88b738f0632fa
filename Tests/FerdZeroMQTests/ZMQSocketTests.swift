import FerdZeroMQ
import XCTest

final class ZMQSocketTests: XCTestCase {
    func testRouterAndDealerExchangeMultipartMessagesOverTCP() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setRouterMandatory(true)
        try router.setMaxMessageSize(4 << 20)
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

    // MARK: zero-copy messages (ZMQMessage)

    private func pushPull(_ context: ZMQContext) throws -> (push: ZMQSocket, pull: ZMQSocket) {
        let pull = try ZMQSocket(context, type: .pull)
        try pull.setLinger(milliseconds: 0)
        try pull.bind("tcp://127.0.0.1:*")
        let push = try ZMQSocket(context, type: .push)
        try push.setLinger(milliseconds: 0)
        try push.connect(try pull.lastEndpoint())
        return (push, pull)
    }

    private func receiveMessage(on socket: ZMQSocket) throws -> [ZMQMessage]? {
        guard try socket.poll(timeoutMilliseconds: 2_000) else { return nil }
        return try socket.receiveMessage()
    }

    /// Sends until the message is queued (the PUSH may not be connected yet).
    private func sendWhenConnected(_ socket: ZMQSocket, _ prefix: [[UInt8]], payload: ZMQMessage) throws {
        let deadline = Date().addingTimeInterval(2)
        while try !socket.send(prefix, payload: payload) {
            XCTAssertLessThan(Date(), deadline, "the message was never queued")
            usleep(1_000)
        }
    }

    func testMessageRoundTripReadsFramesInPlace() throws {
        let context = try ZMQContext()
        let (push, pull) = try pushPull(context)
        try sendWhenConnected(push, [[1, 2, 3]], payload: ZMQMessage([4, 5, 6, 7]))
        let frames = try XCTUnwrap(try receiveMessage(on: pull))
        XCTAssertEqual(frames.map(\.bytes), [[1, 2, 3], [4, 5, 6, 7]])
        XCTAssertEqual(frames[1].count, 4)
        XCTAssertEqual(frames[1].withUnsafeBytes { $0.reduce(0) { $0 + Int($1) } }, 22)
        XCTAssertNil(try pull.receiveMessage())
        // The copying API reads what the message API sent, and the other way round.
        try push.send([[9], [8]])
        XCTAssertEqual(try receiveMessage(on: pull)?.map(\.bytes), [[9], [8]])
        XCTAssertTrue(try push.send([], payload: ZMQMessage([])))
        XCTAssertEqual(try receive(on: pull), [[]])
    }

    func testRouterSendsIdentityHeaderAndSharedPayloadToSeveralPeers() throws {
        let context = try ZMQContext()
        let router = try ZMQSocket(context, type: .router)
        try router.setLinger(milliseconds: 0)
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        var dealers: [ZMQSocket] = []
        for name in ["a", "b", "c"] {
            let dealer = try ZMQSocket(context, type: .dealer)
            try dealer.setLinger(milliseconds: 0)
            try dealer.setRoutingID(Array(name.utf8))
            try dealer.connect(try router.lastEndpoint())
            try dealer.send([[0]])
            XCTAssertEqual(try receive(on: router)?.first, Array(name.utf8))
            dealers.append(dealer)
        }
        let payload = [UInt8]((0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let original = ZMQMessage(payload)
        for name in ["a", "b", "c"] {
            XCTAssertTrue(try router.send([Array(name.utf8), [42]], payload: ZMQMessage(sharing: original)))
        }
        XCTAssertEqual(original.bytes, payload, "sharing leaves the original intact")
        for dealer in dealers {
            let frames = try XCTUnwrap(try receiveMessage(on: dealer))
            XCTAssertEqual(frames.count, 2)
            XCTAssertEqual(frames[0].bytes, [42])
            XCTAssertEqual(frames[1].bytes, payload)
        }
    }

    func testLargeBorrowedPayloadIsSentWithoutCopyAndReleasedOnceLibzmqIsDone() throws {
        final class Buffer: @unchecked Sendable {
            let pointer: UnsafeMutableRawBufferPointer
            let lock = NSLock()
            var releases = 0
            init(count: Int) { pointer = .allocate(byteCount: count, alignment: 64) }
            deinit { pointer.deallocate() }
        }
        let count = 8 << 20
        let buffer = Buffer(count: count)
        for index in 0..<count { buffer.pointer[index] = UInt8(truncatingIfNeeded: index &* 31 &+ index >> 12) }
        let context = try ZMQContext()
        let (push, pull) = try pushPull(context)
        var message: ZMQMessage? = ZMQMessage(borrowing: UnsafeRawBufferPointer(buffer.pointer)) { [buffer] in
            buffer.lock.withLock { buffer.releases += 1 }
        }
        message!.withUnsafeBytes { bytes in
            XCTAssertEqual(bytes.baseAddress, UnsafeRawPointer(buffer.pointer.baseAddress), "not copied")
        }
        try sendWhenConnected(push, [Array("header".utf8)], payload: message!)
        XCTAssertEqual(message!.count, 0, "libzmq took the content")
        message = nil
        let frames = try XCTUnwrap(try receiveMessage(on: pull))
        XCTAssertEqual(frames[0].bytes, Array("header".utf8))
        XCTAssertEqual(frames[1].count, count)
        frames[1].withUnsafeBytes { received in
            XCTAssertTrue(received.elementsEqual(UnsafeRawBufferPointer(buffer.pointer)))
        }
        // Released once the I/O thread has written it, exactly once.
        let deadline = Date().addingTimeInterval(2)
        while buffer.lock.withLock({ buffer.releases }) == 0, Date() < deadline { usleep(1_000) }
        usleep(20_000)
        XCTAssertEqual(buffer.lock.withLock { buffer.releases }, 1)
    }

    func testUnsentBorrowedMessageIsReleasedWhenClosed() throws {
        final class Counter: @unchecked Sendable {
            let lock = NSLock()
            var releases = 0
        }
        let counter = Counter()
        let bytes: [UInt8] = [1, 2, 3]
        try bytes.withUnsafeBytes { raw in
            var message: ZMQMessage? = ZMQMessage(borrowing: raw) { counter.lock.withLock { counter.releases += 1 } }
            let copy = ZMQMessage(sharing: message!)
            message = nil
            XCTAssertEqual(counter.lock.withLock { counter.releases }, 0, "a copy still holds the content")
            XCTAssertEqual(copy.bytes, bytes)
            // A PUSH with no peer cannot queue: the message is left as it was.
            let context = try ZMQContext()
            let push = try ZMQSocket(context, type: .push)
            try push.setLinger(milliseconds: 0)
            XCTAssertFalse(try push.send([], payload: copy))
            XCTAssertEqual(copy.count, 3)
            push.close()
        }
        XCTAssertEqual(counter.lock.withLock { counter.releases }, 1)
    }

    private func receive(on socket: ZMQSocket) throws -> [[UInt8]]? {
        guard try socket.poll(timeoutMilliseconds: 2_000) else { return nil }
        return try socket.receive()
    }
}
