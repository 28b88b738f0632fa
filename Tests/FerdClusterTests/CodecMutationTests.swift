import XCTest
@testable import FerdCluster

/// Decoding must end in a value or a `ProtocolError` for any input; run against mutated valid frames
/// and random bytes from a fixed seed so that a failure reproduces.
final class CodecMutationTests: XCTestCase {
    func testTwentyThousandMutatedFramesNeverCrash() throws {
        let frames = try Fixtures.messages.map { try $0.encode() }
        var random = TestRandom(seed: 0xFE2D_2025)
        var decoded = 0
        for _ in 0..<20_000 {
            var frame = frames[random.below(frames.count)]
            for _ in 0...random.below(4) {
                mutate(&frame, using: &random)
            }
            if let message = try? Message.decode(frame) {
                decoded += 1
                XCTAssertEqual(try Message.decode(try message.encode()), message)
            }
        }
        XCTAssertGreaterThan(decoded, 0, "some mutations (payload bytes, ids) should still decode")
    }

    func testRandomBytesBehindAValidHeaderNeverCrash() {
        var random = TestRandom(seed: 7)
        for _ in 0..<5_000 {
            let body = (0..<random.below(200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let type = UInt8(1 + random.below(MessageType.allCases.count))
            _ = try? Message.decode(Fixtures.frame(type: type, body: body))
        }
    }

    private func mutate(_ frame: inout [UInt8], using random: inout TestRandom) {
        let byte = UInt8(truncatingIfNeeded: random.next())
        switch random.below(6) {
        case 0 where !frame.isEmpty:
            frame[random.below(frame.count)] = byte
        case 1 where !frame.isEmpty:
            frame[random.below(frame.count)] ^= 1 << UInt8(random.below(8))
        case 2:
            frame.removeLast(random.below(frame.count + 1))
        case 3:
            frame.insert(byte, at: random.below(frame.count + 1))
        case 4 where frame.count > 1:
            frame.remove(at: random.below(frame.count))
        default:
            let interesting: [UInt8] = [0x00, 0x01, 0x7F, 0x80, 0xFF]
            if !frame.isEmpty { frame[random.below(frame.count)] = interesting[random.below(interesting.count)] }
        }
    }
}
