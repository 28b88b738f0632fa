import Foundation
@testable import FerdCollective
import XCTest

final class FrameTests: XCTestCase {
    let sample = FrameHeader(type: .ring, precision: .float16, flags: 3, gangID: 0x0102_0304_0506_0708, step: 99,
                             bucket: 7, part: 2, segment: 3, rank: 2, gangSize: 4, payloadLength: 10)

    func testRoundTrip() throws {
        for type in FrameType.allCases {
            var header = sample
            header.type = type
            let bytes = header.encoded()
            XCTAssertEqual(bytes.count, FrameHeader.size)
            XCTAssertEqual(try FrameHeader.decode(bytes, payloadCount: 10), header)
            XCTAssertEqual(try FrameHeader.decode(frames: [bytes, [UInt8](repeating: 0, count: 10)]), header)
        }
    }

    func testRejections() {
        let bytes = sample.encoded()
        func rejects(_ bytes: [UInt8], payload: Int = 10, _ expected: FrameError, line: UInt = #line) {
            XCTAssertThrowsError(try FrameHeader.decode(bytes, payloadCount: payload), line: line) {
                XCTAssertEqual($0 as? FrameError, expected, line: line)
            }
        }
        rejects(Array(bytes.prefix(43)), .truncated(43))
        rejects([], .truncated(0))
        rejects(bytes + [0], .truncated(45))
        var garbage = bytes
        garbage[0] = 0
        rejects(garbage, .badMagic)
        garbage = bytes
        garbage[4] = 1
        rejects(garbage, .unsupportedVersion(1))
        garbage = bytes
        garbage[5] = 200
        rejects(garbage, .unknownType(200))
        garbage = bytes
        garbage[6] = 9
        rejects(garbage, .unknownPrecision(9))
        var header = sample
        header.rank = 4
        rejects(header.encoded(), .badRank(rank: 4, size: 4))
        rejects(bytes, payload: 11, .payloadLength(declared: 10, actual: 11))
        XCTAssertThrowsError(try FrameHeader.decode(frames: [bytes])) {
            XCTAssertEqual($0 as? FrameError, .wrongFrameCount(1))
        }
        var state: UInt64 = 1
        for length in 0..<200 {
            let random = (0..<length).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            XCTAssertThrowsError(try FrameHeader.decode(random, payloadCount: 0))
        }
    }

    func testPayloads() throws {
        let blocks: [[UInt8]] = [[], [1, 2, 3], Array(repeating: 7, count: 300)]
        XCTAssertEqual(try Payload.decodeBlocks(Payload.blocks(blocks)), blocks)
        XCTAssertEqual(try Payload.decodeStrings(Payload.strings(["tcp://a:1", ""])), ["tcp://a:1", ""])
        XCTAssertEqual(try Payload.decodeRanks(Payload.ranks([0, 3, 65535])), [0, 3, 65535])
        let join = try Payload.decodeJoin(Payload.join(timeout: 1.5, ringEndpoint: "tcp://10.0.0.5:4000"))
        XCTAssertEqual(join.timeout, 1.5)
        XCTAssertEqual(join.ringEndpoint, "tcp://10.0.0.5:4000")
        XCTAssertEqual(join.publicKey, "")
        let keyed = try Payload.decodeJoin(Payload.join(timeout: 2, ringEndpoint: "tcp://b:1", publicKey: "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"))
        XCTAssertEqual(keyed.publicKey, "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7")
        let peers = [Payload.Peer(endpoint: "tcp://a:1", publicKey: "A"), Payload.Peer(endpoint: "tcp://b:1", publicKey: "B")]
        XCTAssertEqual(try Payload.decodePeers(Payload.peers(peers)), peers)
        XCTAssertThrowsError(try Payload.decodePeers(Payload.strings(["tcp://a:1", "A", "tcp://b:1"])), "pairs only")
        let encoded = Payload.blocks(blocks)
        for length in 0..<encoded.count {
            XCTAssertThrowsError(try Payload.decodeBlocks(Array(encoded.prefix(length))), "prefix \(length)")
        }
        XCTAssertThrowsError(try Payload.decodeBlocks(encoded + [0]))
        XCTAssertThrowsError(try Payload.decodeBlocks([255, 255, 255, 255]))
        XCTAssertThrowsError(try Payload.decodeJoin([1, 0]))
        XCTAssertThrowsError(try Payload.decodeRanks([1]))
    }

    func testSpecIsCodable() throws {
        let spec = GangSpec(gangID: 5, rank: 1, size: 3, topology: .star, precision: .float16,
                            hubEndpoint: "tcp://10.0.0.1:5600", ringBindAddress: "tcp://10.0.0.5:*")
        XCTAssertEqual(try JSONDecoder().decode(GangSpec.self, from: JSONEncoder().encode(spec)), spec)
        XCTAssertEqual(spec.bucketBytes, 25 << 20)
    }
}

final class KernelTests: XCTestCase {
    /// The hub's blocked one-pass reduction gives the bits of summing whole rows in rank order, dividing and
    /// encoding, for counts that end inside a block.
    func testReduceMatchesRowByRowSummation() {
        let count = 2 * Kernels.reduceBlock + 1_234
        for precision in [GangSpec.Precision.float32, .float16] {
            for divisor in [nil, Float(3)] {
                let rows = (0..<3).map { rank in gradient(rank: rank, tensor: 5, count: count) }
                let inputs: [[UInt8]] = rows.map { row in
                    row.withUnsafeBufferPointer { values in
                        var scratch: [UInt16] = []
                        return Kernels.withWireBytes(values.baseAddress!, count: count, precision: precision,
                                                     scratch: &scratch) { Array($0) }
                    }
                }
                var expected = [Float](repeating: 0, count: count)
                for (rank, input) in inputs.enumerated() {
                    expected.withUnsafeMutableBufferPointer {
                        Kernels.readWire(input, count: count, precision: precision, adding: rank > 0, into: $0.baseAddress!)
                    }
                }
                if let divisor { expected = expected.map { $0 / divisor } }
                let expectedBytes: [UInt8] = expected.withUnsafeBufferPointer { values in
                    var scratch: [UInt16] = []
                    return Kernels.withWireBytes(values.baseAddress!, count: count, precision: precision,
                                                 scratch: &scratch) { Array($0) }
                }
                var output = [UInt8](repeating: 0, count: count * precision.bytesPerElement)
                var scratch: [Float] = []
                output.withUnsafeMutableBytes {
                    Kernels.reduce(inputs, count: count, precision: precision, divisor: divisor, into: $0.baseAddress!,
                                   scratch: &scratch)
                }
                XCTAssertEqual(output, expectedBytes, "\(precision), divisor \(String(describing: divisor))")
            }
        }
    }
}
