import FerdCollective
import FerdTestSupport
import FerdZeroMQ
import Foundation
import Logging
import XCTest

final class GangTests: XCTestCase {
    /// Odd sizes spanning several 10,000-float buckets and 2,000-float chunks.
    let sizes = [1, 7, 12_345, 3, 20_001, 0, 9_999, 4_000]

    /// Two steps through real members; returns every rank's averages of the second step.
    private func exchange(_ fixture: HubFixture, gang: UInt64, size: Int, topology: GangSpec.Topology,
                          precision: GangSpec.Precision) -> [[[Float]]] {
        let sizes = sizes
        let results = runOnThreads(size) { rank -> [[Float]] in
            let member = try fixture.member(fixture.spec(gang: gang, rank: rank, size: size, topology: topology,
                                                         precision: precision))
            defer { member.close() }
            var averages: [[Float]] = []
            for step in 0..<2 {
                try member.beginStep(sizes: sizes)
                // Offered in reverse, as a backward pass finishes the last layers first.
                for index in sizes.indices.reversed() {
                    let values = gradient(rank: rank + 10 * step, tensor: index, count: sizes[index])
                    try values.withUnsafeBufferPointer { try member.offer(index, $0) }
                }
                averages = [[Float]](repeating: [], count: sizes.count)
                try member.finishStep { averages[$0] = Array($1) }
            }
            let statistics = member.statistics
            XCTAssertEqual(statistics.steps, 2)
            XCTAssertGreaterThan(statistics.lastStep.bytesSent, 0)
            XCTAssertGreaterThan(statistics.lastStep.bytesReceived, 0)
            return averages
        }
        return results.map { result in
            switch result {
            case .success(let value): return value
            case .failure(let error):
                XCTFail("\(error)")
                return []
            }
        }
    }

    private func check(topology: GangSpec.Topology, precision: GangSpec.Precision) throws {
        let fixture = try HubFixture()
        for size in 2...4 {
            let results = exchange(fixture, gang: UInt64(size) + (topology == .ring ? 100 : 0), size: size,
                                   topology: topology, precision: precision)
            guard results.allSatisfy({ $0.count == sizes.count }) else { return }
            for rank in 1..<size {
                for index in sizes.indices {
                    XCTAssertEqual(results[rank][index].map(\.bitPattern), results[0][index].map(\.bitPattern),
                                   "k=\(size) rank \(rank) tensor \(index) differs from rank 0")
                }
            }
            for index in sizes.indices {
                let inputs = (0..<size).map { gradient(rank: $0 + 10, tensor: index, count: sizes[index]) }
                for element in 0..<sizes[index] {
                    let reference = inputs.reduce(0.0) { $0 + Double($1[element]) } / Double(size)
                    let scale = inputs.reduce(0.0) { $0 + abs(Double($1[element])) } / Double(size)
                    let got = results[0][index][element]
                    let tolerance = precision == .float32
                        ? 1e-6 * max(scale, abs(reference))
                        : Double(size + 1) * 0x1p-11 * max(scale, abs(reference)) + 0x1p-24
                    if abs(Double(got) - reference) > tolerance {
                        XCTFail("k=\(size) tensor \(index)[\(element)]: \(got), reference \(reference)")
                        return
                    }
                    if precision == .float16 {
                        XCTAssertEqual(HalfPrecision.value(HalfPrecision.bits(got)), got, "a float16 value")
                    }
                }
            }
        }
    }

    func testStarFloat32() throws { try check(topology: .star, precision: .float32) }
    func testRingFloat32() throws { try check(topology: .ring, precision: .float32) }
    func testStarFloat16() throws { try check(topology: .star, precision: .float16) }
    func testRingFloat16() throws { try check(topology: .ring, precision: .float16) }

    func testAllReduceAndAllGather() throws {
        let fixture = try HubFixture()
        for topology in [GangSpec.Topology.star, .ring] {
            let results = runOnThreads(3) { rank -> ([Float], [Float], [[UInt8]]) in
                let member = try fixture.member(fixture.spec(gang: topology == .star ? 1 : 2, rank: rank, size: 3,
                                                             topology: topology))
                defer { member.close() }
                var sum = (0..<5_001).map { Float($0 * (rank + 1)) }
                try member.allReduce(&sum, average: false)
                var mean: [Float] = [Float(rank), 1]
                try member.allReduce(&mean, average: true)
                let gathered = try member.allGather(Array(repeating: UInt8(rank), count: rank * 3))
                return (sum, mean, gathered)
            }
            for result in results {
                let (sum, mean, gathered) = try result.get()
                XCTAssertEqual(sum, (0..<5_001).map { Float($0 * 6) }, "\(topology)")
                XCTAssertEqual(mean, [1, 1], "\(topology)")
                XCTAssertEqual(gathered, [[], [1, 1, 1], [2, 2, 2, 2, 2, 2]], "\(topology)")
            }
        }
    }

    func testAbsentMemberTimesOutTheRendezvous() throws {
        let fixture = try HubFixture()
        for topology in [GangSpec.Topology.star, .ring] {
            let start = Date()
            let results = runOnThreads(2) { rank in
                _ = try fixture.member(fixture.spec(gang: topology == .star ? 7 : 8, rank: rank, size: 3,
                                                    topology: topology, timeout: 1))
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 3)
            for result in results {
                XCTAssertThrowsError(try result.get()) { error in
                    guard case .rendezvousTimeout(_, _, let missing, _, _) = error as? GangError else {
                        return XCTFail("\(error)")
                    }
                    XCTAssertEqual(missing, [2])
                    XCTAssertTrue("\(error)".contains("rank(s) 2 did not join"), "\(error)")
                }
            }
        }
    }

    func testMemberThatLeavesFailsTheOthers() throws {
        let fixture = try HubFixture()
        for topology in [GangSpec.Topology.star, .ring] {
            let start = Date()
            let results = runOnThreads(3) { rank in
                let member = try fixture.member(fixture.spec(gang: topology == .star ? 9 : 10, rank: rank, size: 3,
                                                             topology: topology, timeout: 1))
                defer { member.close() }
                guard rank != 2 else { return }
                var values: [Float] = [1, 2, 3]
                try member.allReduce(&values, average: true)
            }
            XCTAssertLessThan(Date().timeIntervalSince(start), 4, "\(topology)")
            XCTAssertNoThrow(try results[2].get())
            for rank in 0..<2 {
                XCTAssertThrowsError(try results[rank].get(), "\(topology) rank \(rank)") {
                    XCTAssertTrue($0 is GangError, "\($0)")
                }
            }
        }
    }

    func testCancellationUnblocksAWaitingMember() throws {
        let fixture = try HubFixture()
        let cancel = Locked(false)
        let start = Date()
        let results = runOnThreads(2) { rank in
            let member = try fixture.member(fixture.spec(gang: 11, rank: rank, size: 2, topology: .ring, timeout: 30),
                                            cancelled: { rank == 0 && cancel.value })
            defer { member.close() }
            if rank == 1 {
                Thread.sleep(forTimeInterval: 0.3)
                cancel.update { $0 = true }
                Thread.sleep(forTimeInterval: 0.5)
                return
            }
            var values: [Float] = [1]
            try member.allReduce(&values, average: true)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 5)
        XCTAssertThrowsError(try results[0].get()) {
            XCTAssertEqual($0 as? GangError, .cancelled(gangID: 11, rank: 0))
        }
    }

    func testHubSurvivesGarbage() throws {
        let fixture = try HubFixture()
        let rogue = try ZMQSocket(fixture.context, type: .dealer)
        try rogue.setLinger(milliseconds: 0)
        try rogue.connect(fixture.hub.boundEndpoint)
        var wrongVersion = FrameHeader(type: .join, gangID: 3, rank: 0, gangSize: 2, payloadLength: 4).encoded()
        wrongVersion[4] = 9
        let unknownGang = FrameHeader(type: .reduce, gangID: 4242, rank: 0, gangSize: 2, payloadLength: 8).encoded()
        let badJoin = FrameHeader(type: .join, gangID: 3, rank: 0, gangSize: 2, payloadLength: 2).encoded()
        for message: [[UInt8]] in [[[1, 2, 3]], [[0xFF], [0xEE], [0xDD]], [wrongVersion, [0, 0, 0, 0]],
                                   [unknownGang, [UInt8](repeating: 0, count: 8)], [badJoin, [1, 2]],
                                   [Array(repeating: 0x46, count: 44), []]] {
            try rogue.send(message)
        }
        rogue.close()
        let results = runOnThreads(2) { rank -> [Float] in
            let member = try fixture.member(fixture.spec(gang: 3, rank: rank, size: 2, topology: .star))
            defer { member.close() }
            var values: [Float] = [Float(rank), 4]
            try member.allReduce(&values, average: true)
            return values
        }
        for result in results { XCTAssertEqual(try result.get(), [0.5, 4]) }
    }

    func testAWorkerAtTheHubsEndpointIsToldWhereToConnect() throws {
        let warnings = Locked([String]())
        let context = try ZMQContext()
        let hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context,
                                  logger: Logger(label: "hub") { _ in WarningRecorder(warnings: warnings) })
        defer { hub.stop() }
        let worker = try ZMQSocket(context, type: .dealer)
        try worker.setLinger(milliseconds: 0)
        try worker.setRoutingID(Array("box-7".utf8))
        try worker.connect(hub.boundEndpoint)
        for _ in 0..<3 { try worker.send([Array("FERD".utf8) + [0, 2, 1, 0, 0, 0, 0, 0]]) }
        let deadline = Date().addingTimeInterval(5)
        while warnings.value.isEmpty, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        Thread.sleep(forTimeInterval: 0.2)
        worker.close()
        XCTAssertEqual(warnings.value.count, 1, "told once: \(warnings.value)")
        XCTAssertTrue(warnings.value.first?.contains("box-7") == true && warnings.value.first?.contains("--bind") == true,
                      "\(warnings.value)")
    }

    func testMisuseIsReported() throws {
        let fixture = try HubFixture()
        let member = try fixture.member(fixture.spec(gang: 20, rank: 0, size: 1, topology: .ring))
        defer { member.close() }
        XCTAssertThrowsError(try [Float](repeating: 0, count: 3).withUnsafeBufferPointer { try member.offer(0, $0) })
        try member.beginStep(sizes: [3])
        XCTAssertThrowsError(try [Float](repeating: 0, count: 2).withUnsafeBufferPointer { try member.offer(0, $0) })
        XCTAssertThrowsError(try member.finishStep { _, _ in })
        try [Float](repeating: 2, count: 3).withUnsafeBufferPointer { try member.offer(0, $0) }
        var result: [Float] = []
        try member.finishStep { result = Array($1) }
        XCTAssertEqual(result, [2, 2, 2], "a gang of one averages over itself")
    }
}
