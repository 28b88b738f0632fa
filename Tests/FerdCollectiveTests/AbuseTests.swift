import FerdCollective
import FerdRandom
import FerdSystem
import FerdTestSupport
import FerdZeroMQ
import Foundation
import Logging
import XCTest

/// Strangers at the gradient plane's endpoints: garbage sent to the hub and to every member's ring endpoint while
/// a gang reduces must not change a single value, must not flood the log, and is counted; a frame forged in the
/// gang's name fails the gang cleanly instead of corrupting it.
final class AbuseTests: XCTestCase {
    private let count = 30_000

    func testGarbageAtTheHubAndTheRingsChangesNoValueAndIsLoggedSparingly() throws {
        let warnings = Locked([String]())
        let fixture = try HubFixture(logger: Logger(label: "abuse") { _ in WarningRecorder(warnings: warnings) })
        let size = 3
        let rings = try (0..<size).map { _ in try fixture.freeEndpoint() }
        let stop = Locked(false)
        let sent = Locked(0)
        let abuser = Thread { [count] in
            Self.abuse(fixture: fixture, rings: rings, gang: 30, size: size, elements: count, stop: stop, sent: sent)
        }
        abuser.start()
        let results = runOnThreads(size) { [count] rank -> [[Float]] in
            let member = try fixture.member(fixture.spec(gang: 30, rank: rank, size: size, topology: .ring,
                                                         ringBindAddress: rings[rank]))
            defer { member.close() }
            return try (0..<6).map { step in
                var values = gradient(rank: rank + 10 * step, tensor: 0, count: count)
                try member.allReduce(&values, average: false)
                return values
            }
        }
        // A fast machine finishes the six reductions before the abuser has sent its share: it keeps going (the hub
        // keeps receiving) until it has, or for 10 s at most.
        let deadline = Date().addingTimeInterval(10)
        while sent.value <= 200 && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        stop.update { $0 = true }
        while !abuser.isFinished { Thread.sleep(forTimeInterval: 0.01) }

        let sums = try results.map { try $0.get() }
        for step in 0..<6 {
            let inputs = (0..<size).map { gradient(rank: $0 + 10 * step, tensor: 0, count: count) }
            for element in 0..<count {
                let reference = inputs.reduce(0.0) { $0 + Double($1[element]) }
                let scale = inputs.reduce(0.0) { $0 + abs(Double($1[element])) }
                for rank in 0..<size where abs(Double(sums[rank][step][element]) - reference) > 1e-6 * scale {
                    return XCTFail("step \(step) rank \(rank) element \(element): \(sums[rank][step][element]), "
                                   + "reference \(reference)")
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.2)
        let messages = sent.value
        XCTAssertGreaterThan(messages, 200, "the abuser got its messages out")
        let counts = fixture.hub.takeDroppedCounts()
        XCTAssertGreaterThan(counts.reduce(0) { $0 + $1.count }, 50, "the hub counted what it dropped: \(counts)")
        XCTAssertTrue(counts.contains { $0.kind == TrafficGuard.ignoredKind }, "the peer sending only garbage is ignored")
        XCTAssertLessThan(warnings.value.count, 40, "\(messages) bad messages, \(warnings.value.count) warnings:\n"
                          + warnings.value.joined(separator: "\n"))
    }

    func testARingFrameForgedInTheGangsNameFailsTheGangInsteadOfCorruptingIt() throws {
        let fixture = try HubFixture()
        let rings = try (0..<2).map { _ in try fixture.freeEndpoint() }
        let firstExchangeDone = DispatchGroup()
        firstExchangeDone.enter()
        firstExchangeDone.enter()
        let forged = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            // Rank 1's left neighbour is rank 0: a stranger claims to be rank 0 with a segment of a later exchange.
            _ = firstExchangeDone.wait(timeout: .now() + 10)
            do {
                let forger = try ZMQSocket(fixture.context, type: .push)
                defer { forger.close() }
                try forger.setLinger(milliseconds: 0)
                try forger.connect(rings[1])
                let payload = [UInt8](repeating: 0x7f, count: 4 * 8)
                let header = FrameHeader(type: .ring, gangID: 31, step: 5, rank: 0, gangSize: 2,
                                         payloadLength: UInt32(payload.count))
                try forger.send([header.encoded(), payload])
                Thread.sleep(forTimeInterval: 0.3)
            } catch {
                XCTFail("could not forge: \(error)")
            }
            forged.signal()
            forged.signal()
        }
        let started = Date()
        let results = runOnThreads(2) { rank -> [Float] in
            let member = try fixture.member(fixture.spec(gang: 31, rank: rank, size: 2, topology: .ring, timeout: 3,
                                                         ringBindAddress: rings[rank]))
            defer { member.close() }
            var values = [Float](repeating: Float(rank + 1), count: 8)
            try member.allReduce(&values, average: false)
            firstExchangeDone.leave()
            forged.wait()
            for _ in 0..<3 { try member.allReduce(&values, average: false) }
            return values
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "failed promptly, no hang")
        for result in results {
            XCTAssertThrowsError(try result.get(), "a forged segment must not be summed") { error in
                XCTAssertNotNil(error as? GangError, "\(error)")
            }
        }
    }

    /// Until `stop`: random bytes, frames past the magic, frames of other gangs and frames of ranks that are not
    /// the receiver's left neighbour, to the hub (from one identity, which the hub ends up ignoring) and to every
    /// ring endpoint.
    private static func abuse(fixture: HubFixture, rings: [String], gang: UInt64, size: Int, elements: Int,
                              stop: Locked<Bool>, sent: Locked<Int>) {
        do {
            let hub = try ZMQSocket(fixture.context, type: .dealer)
            try hub.setLinger(milliseconds: 0)
            try hub.setRoutingID(Array("stranger".utf8))
            try hub.connect(fixture.hub.boundEndpoint)
            let pushes = try rings.map { ring in
                let socket = try ZMQSocket(fixture.context, type: .push)
                try socket.setLinger(milliseconds: 0)
                try socket.connect(ring)
                return socket
            }
            defer {
                hub.close()
                pushes.forEach { $0.close() }
            }
            var generator = SplitMix64(seed: 99)
            var index = 0
            while !stop.value {
                let noise = (0..<Int.random(in: 0...96, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let otherGang = FrameHeader(type: .reduce, gangID: gang + 1, rank: 0, gangSize: UInt16(size),
                                            payloadLength: 8).encoded()
                let messages: [[[UInt8]]] = [[noise], [Array("FERD".utf8) + noise, noise],
                                             [otherGang, [UInt8](repeating: 1, count: 8)], [noise, noise, noise]]
                try? hub.send(messages[index % messages.count])
                for (rank, push) in pushes.enumerated() {
                    let notLeft = UInt16(rank)
                    let wrongRank = FrameHeader(type: .ring, gangID: gang, rank: notLeft, gangSize: UInt16(size),
                                                payloadLength: 8).encoded()
                    let ringMessages: [[[UInt8]]] = [[noise, noise], [wrongRank, [UInt8](repeating: 2, count: 8)],
                                                     [otherGang, [UInt8](repeating: 1, count: 8)], [noise]]
                    try? push.send(ringMessages[index % ringMessages.count])
                }
                index += 1
                sent.update { $0 += 1 + pushes.count }
                Thread.sleep(forTimeInterval: 0.001)
            }
        } catch {
            XCTFail("the abuser could not start: \(error)")
        }
    }
}
