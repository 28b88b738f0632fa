import XCTest
@testable import FerdCluster

final class CodecRejectionTests: XCTestCase {
    private func assertRejects(_ frame: [UInt8], with expected: ProtocolError,
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Message.decode(frame), file: file, line: line) { error in
            XCTAssertEqual(error as? ProtocolError, expected, file: file, line: line)
        }
    }

    private func body(_ build: (inout ByteWriter) throws -> Void) rethrows -> [UInt8] {
        var writer = ByteWriter()
        try build(&writer)
        return writer.bytes
    }

    func testTruncatedHeader() {
        assertRejects([0x46, 0x45, 0x52, 0x44, 1, 0], with: .truncated(needed: 12, available: 6))
        assertRejects([], with: .truncated(needed: 12, available: 0))
    }

    func testTruncatedBody() throws {
        let frame = try Message.result(Fixtures.result).encode()
        assertRejects(Array(frame.dropLast()), with: .truncated(needed: frame.count, available: frame.count - 1))
    }

    func testBodyShorterThanItsFields() {
        assertRejects(Fixtures.frame(type: MessageType.ready.rawValue, body: [1, 0]),
                      with: .truncated(needed: 16, available: 14))
    }

    func testStringLengthBeyondTheFrame() {
        let frame = Fixtures.frame(type: MessageType.cancel.rawValue, body: body { writer in
            writer.writeUInt64(1)
            writer.writeUInt32(1)
            writer.writeUInt32(UInt32.max)
        })
        assertRejects(frame, with: .truncated(needed: 28 + Int(UInt32.max), available: 28))
    }

    func testHugeElementCountIsRejectedBeforeAllocating() {
        let frame = Fixtures.frame(type: MessageType.metric.rawValue, body: body { writer in
            writer.writeUInt64(1)
            writer.writeUInt32(1)
            writer.writeUInt32(1)
            for _ in 0..<5 { writer.writeDouble(0.5) }
            writer.writeUInt32(7)
            writer.writeUInt32(7)
            for _ in 0..<49 { writer.writeUInt32(0) }
            writer.writeUInt32(UInt32.max)
        })
        XCTAssertThrowsError(try Message.decode(frame)) { error in
            guard case .truncated = error as? ProtocolError else { return XCTFail("\(error)") }
        }
    }

    func testOversizedDeclaredLength() {
        let declared = WireFormat.maxMessageSize
        assertRejects(Fixtures.frame(type: MessageType.chunk.rawValue, body: [], declaredLength: declared),
                      with: .oversized(length: declared + WireFormat.headerSize, limit: WireFormat.maxMessageSize))
    }

    func testOversizedFrame() {
        let frame = Fixtures.frame(type: MessageType.chunk.rawValue,
                                   body: [UInt8](repeating: 0, count: WireFormat.maxMessageSize))
        assertRejects(frame, with: .oversized(length: frame.count, limit: WireFormat.maxMessageSize))
    }

    func testOversizedChunkIsNotEncoded() {
        let chunk = Chunk(transferID: 1, index: 0, total: 1,
                          payload: [UInt8](repeating: 0, count: WireFormat.maxChunkPayload + 1))
        XCTAssertThrowsError(try Message.chunk(chunk).encode()) { error in
            XCTAssertEqual(error as? ProtocolError,
                           .oversized(length: WireFormat.maxChunkPayload + 1, limit: WireFormat.maxChunkPayload))
        }
    }

    func testWrongMagic() {
        assertRejects(Array("GET / HTTP/1.1\r\n".utf8), with: .badMagic(found: Array("GET ".utf8)))
        assertRejects([0x46, 0x45, 0x00], with: .badMagic(found: [0x46, 0x45, 0x00]))
    }

    func testWrongVersionNamesBothVersionsAndTheFix() {
        let newer = Fixtures.frame(type: MessageType.bye.rawValue, body: [], version: 5)
        assertRejects(newer, with: .versionMismatch(seen: 5, expected: 4))
        let text = ProtocolError.versionMismatch(seen: 5, expected: 4).description
        XCTAssertTrue(text.contains("version 5") && text.contains("version 4") && text.contains("upgrade ferd here"),
                      text)
        let older = ProtocolError.versionMismatch(seen: 3, expected: 4).description
        XCTAssertTrue(older.contains("upgrade ferd on the peer"), older)
    }

    func testHelloDeclaringAnotherVersionIsRejected() {
        var hello = Fixtures.hello
        hello.protocolVersion = 7
        XCTAssertThrowsError(try Message.hello(hello).encode()) { error in
            XCTAssertEqual(error as? ProtocolError, .versionMismatch(seen: 7, expected: 4))
        }
    }

    func testUnknownType() {
        assertRejects(Fixtures.frame(type: 99, body: []), with: .unknownMessageType(99))
        assertRejects(Fixtures.frame(type: 0, body: []), with: .unknownMessageType(0))
    }

    func testReservedFlags() {
        assertRejects(Fixtures.frame(type: MessageType.bye.rawValue, body: [], flags: 1),
                      with: .invalidValue(field: "flags", reason: "reserved byte is 1, expected 0"))
    }

    func testTrailingBytesAfterTheDeclaredBody() throws {
        assertRejects(try Message.bye.encode() + [0], with: .trailingBytes(count: 1))
    }

    func testTrailingBytesInsideTheDeclaredBody() {
        assertRejects(Fixtures.frame(type: MessageType.ready.rawValue, body: [1, 0, 0, 0, 9, 9]),
                      with: .trailingBytes(count: 2))
    }

    func testInvalidUTF8() {
        let frame = Fixtures.frame(type: MessageType.cancel.rawValue, body: body { writer in
            writer.writeUInt64(1)
            writer.writeUInt32(1)
            writer.writeUInt32(2)
            writer.writeUInt8(0xFF)
            writer.writeUInt8(0xFE)
        })
        assertRejects(frame, with: .invalidUTF8(field: "reason"))
    }

    func testNonFiniteMetricsAreRejectedBothWays() throws {
        let metric = MetricReport(trialID: 1, attempt: 1, epoch: 1, trainLoss: 1, uar: .nan, war: 0.5,
                                  learningRate: 1e-3, seconds: 1, confusion: Fixtures.zeroConfusion)
        XCTAssertThrowsError(try Message.metric(metric).encode()) { error in
            XCTAssertEqual(error as? ProtocolError, .nonFinite(field: "uar"))
        }
        var valid = metric
        valid.uar = 0.5
        var frame = try Message.metric(valid).encode()
        let uarOffset = WireFormat.headerSize + 8 + 4 + 4 + 8
        frame.replaceSubrange(uarOffset..<uarOffset + 8, with: body { $0.writeDouble(.infinity) })
        assertRejects(frame, with: .nonFinite(field: "uar"))
    }

    func testNonFiniteStepLossAndTimestamp() {
        let metric = MetricReport(trialID: 1, attempt: 1, epoch: 1, trainLoss: 1, uar: 0.5, war: 0.5,
                                  learningRate: 1e-3, seconds: 1, confusion: Fixtures.zeroConfusion,
                                  stepLosses: [StepLoss(step: 1, loss: -.infinity)])
        XCTAssertThrowsError(try Message.metric(metric).encode()) { error in
            XCTAssertEqual(error as? ProtocolError, .nonFinite(field: "step loss"))
        }
        XCTAssertThrowsError(try Message.heartbeat(Heartbeat(sequence: 1, timestamp: .nan)).encode()) { error in
            XCTAssertEqual(error as? ProtocolError, .nonFinite(field: "timestamp"))
        }
    }

    func testRecallOutsideTheUnitInterval() {
        var result = Fixtures.result
        result.perClassRecall[3] = 1.5
        XCTAssertThrowsError(try Message.result(result).encode()) { error in
            XCTAssertEqual(error as? ProtocolError,
                           .invalidValue(field: "per-class recall", reason: "1.5 is outside [0, 1]"))
        }
    }

    func testConfusionMatrixOfTheWrongSize() throws {
        var result = Fixtures.result
        result.confusion.removeLast()
        XCTAssertThrowsError(try Message.result(result).encode()) { error in
            guard case .wrongShape(field: "confusion matrix", _, _) = error as? ProtocolError else {
                return XCTFail("\(error)")
            }
        }
        var frame = try Message.result(Fixtures.result).encode()
        let rowsOffset = WireFormat.headerSize + 8 + 4 + 4 + 8 + 8 + 4 + 7 * 8
        frame[rowsOffset] = 6
        assertRejects(frame, with: .wrongShape(field: "confusion matrix", expected: "7×7", found: "6×7"))
    }

    func testMetricConfusionMatrixOfTheWrongShape() throws {
        var metric = try XCTUnwrap(Fixtures.messages.lazy.compactMap { message -> MetricReport? in
            if case let .metric(report) = message { report } else { nil }
        }.first)
        let valid = metric
        metric.confusion[2].removeLast()
        XCTAssertThrowsError(try Message.metric(metric).encode()) { error in
            XCTAssertEqual(error as? ProtocolError,
                           .wrongShape(field: "confusion matrix", expected: "7×7", found: "7×7/7/6/7/7/7/7"))
        }
        metric = valid
        metric.confusion.append(Array(repeating: 0, count: 7))
        XCTAssertThrowsError(try Message.metric(metric).encode()) { error in
            guard case .wrongShape(field: "confusion matrix", _, _) = error as? ProtocolError else {
                return XCTFail("\(error)")
            }
        }

        // The shape is checked on decoding before any count is read: rows, then columns, follow `seconds`.
        let rowsOffset = WireFormat.headerSize + 8 + 4 + 4 + 5 * 8
        var frame = try Message.metric(valid).encode()
        frame[rowsOffset] = 8
        assertRejects(frame, with: .wrongShape(field: "confusion matrix", expected: "7×7", found: "8×7"))
        frame = try Message.metric(valid).encode()
        frame.replaceSubrange(rowsOffset + 4..<rowsOffset + 8, with: body { $0.writeUInt32(UInt32.max) })
        assertRejects(frame, with: .wrongShape(field: "confusion matrix", expected: "7×7",
                                               found: "7×\(UInt32.max)"))
        // A frame from before the matrix was added (step-loss count right after `seconds`) is rejected too.
        let legacy = Fixtures.frame(type: MessageType.metric.rawValue, body: body { writer in
            writer.writeUInt64(1)
            writer.writeUInt32(1)
            writer.writeUInt32(1)
            for _ in 0..<5 { writer.writeDouble(0.5) }
            writer.writeUInt32(0)
        })
        assertRejects(legacy, with: .truncated(needed: legacy.count + 4, available: legacy.count))
    }

    func testRecallVectorOfTheWrongLength() throws {
        var frame = try Message.result(Fixtures.result).encode()
        frame[WireFormat.headerSize + 8 + 4 + 4 + 8 + 8] = 8
        assertRejects(frame, with: .wrongShape(field: "per-class recall", expected: "7", found: "8"))
    }

    func testBadChecksum() {
        var result = Fixtures.result
        result.checkpointSHA256 = String(repeating: "A", count: 64)
        XCTAssertThrowsError(try Message.result(result).encode())
    }

    func testBooleanByteOtherThanZeroOrOne() throws {
        var frame = try Message.fail(FailureReport(trialID: 1, attempt: 1, error: "x", retryable: true)).encode()
        frame[frame.count - 1] = 2
        assertRejects(frame, with: .invalidValue(field: "retryable", reason: "boolean byte is 2, expected 0 or 1"))
    }

    func testChunkIndexBeyondTotal() {
        XCTAssertThrowsError(try Message.chunk(Chunk(transferID: 1, index: 4, total: 4, payload: [])).encode())
    }

    func testValuesThatDoNotFitTheWireAreNotEncoded() {
        XCTAssertThrowsError(try Message.ready(Ready(credit: -1)).encode())
        XCTAssertThrowsError(try Message.cancel(Cancellation(trialID: -5, attempt: 1, reason: "")).encode()) { error in
            XCTAssertEqual(error as? ProtocolError, .invalidValue(field: "trial id", reason: "-5 is negative"))
        }
        let hugeEpoch = MetricReport(trialID: 1, attempt: 1, epoch: 1 << 40, trainLoss: 1, uar: 0, war: 0,
                                     learningRate: 0, seconds: 0, confusion: Fixtures.zeroConfusion)
        XCTAssertThrowsError(try Message.metric(hugeEpoch).encode())
        XCTAssertThrowsError(try Message.assign(Assignment(trialID: 1, attempt: 0, configJSON: "{}")).encode())
    }

    func testTrialIDBeyondIntIsRejected() {
        let frame = Fixtures.frame(type: MessageType.cancel.rawValue, body: body { writer in
            writer.writeUInt64(UInt64.max)
            writer.writeUInt32(1)
            writer.writeUInt32(0)
        })
        assertRejects(frame, with: .invalidValue(field: "trial id", reason: "\(UInt64.max) exceeds \(Int.max)"))
    }

    func testEveryErrorDescribesItself() {
        let errors: [ProtocolError] = [
            .truncated(needed: 12, available: 3), .oversized(length: 9, limit: 8), .badMagic(found: [1]),
            .versionMismatch(seen: 2, expected: 1), .unknownMessageType(77), .trailingBytes(count: 1),
            .invalidUTF8(field: "x"), .nonFinite(field: "x"), .wrongShape(field: "x", expected: "7", found: "6"),
            .invalidValue(field: "x", reason: "y"),
        ]
        for error in errors {
            XCTAssertFalse(error.description.isEmpty)
        }
    }
}
