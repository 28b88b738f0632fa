import XCTest
@testable import FerdCluster

final class CodecRoundTripTests: XCTestCase {
    func testEveryMessageRoundTrips() throws {
        for message in Fixtures.messages {
            let frame = try message.encode()
            XCTAssertEqual(try Message.decode(frame), message, "\(message.type.name)")
        }
    }

    func testEveryMessageTypeHasAFixture() {
        XCTAssertEqual(Set(Fixtures.messages.map(\.type)), Set(MessageType.allCases))
    }

    func testHeaderLayoutIsLittleEndian() throws {
        let frame = try Message.ready(Ready(credit: 0x0102_0304)).encode()
        XCTAssertEqual(frame, [0x46, 0x45, 0x52, 0x44, 0x04, 0x00, 2, 0, 4, 0, 0, 0, 0x04, 0x03, 0x02, 0x01])
    }

    func testByeIsAHeaderOnly() throws {
        XCTAssertEqual(try Message.bye.encode().count, WireFormat.headerSize)
    }

    func testLargestChunkFits() throws {
        let chunk = Message.chunk(Chunk(transferID: 9, index: 0, total: 1,
                                        payload: [UInt8](repeating: 7, count: WireFormat.maxChunkPayload)))
        let frame = try chunk.encode()
        XCTAssertLessThanOrEqual(frame.count, WireFormat.maxMessageSize)
        XCTAssertEqual(try Message.decode(frame), chunk)
    }
}
