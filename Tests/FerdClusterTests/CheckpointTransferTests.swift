import FerdDigest
import Foundation
import XCTest
@testable import FerdCluster

final class CheckpointTransferTests: XCTestCase {
    private let file = URL(fileURLWithPath: "/tmp/best.safetensors")
    private let key = Scheduler.TrialAttempt(trialID: 7, attempt: 2)

    private func digest(_ bytes: [UInt8]) -> String {
        var sha = SHA256()
        sha.update(bytes)
        return sha.hexDigest()
    }

    func testTransferIDsDifferPerTrialAndAttempt() {
        let ids = Set([(1, 1), (1, 2), (2, 1), (7, 2)].map {
            CheckpointTransfer.transferID(for: Scheduler.TrialAttempt(trialID: $0.0, attempt: $0.1))
        })
        XCTAssertEqual(ids.count, 4)
    }

    func testSenderNeverExceedsTheCreditGranted() {
        var sender = ChunkSender(chunkSize: 10)
        let id = CheckpointTransfer.transferID(for: key)
        sender.offer(key, file: file, size: 95)
        XCTAssertEqual(sender.grant(ChunkCredit(transferID: id + 1, credit: 4)), [], "unknown transfer")
        XCTAssertEqual([sender.pendingTransfers, sender.transfersUnderway], [1, 0], "offered, not yet asked for")
        let first = sender.grant(ChunkCredit(transferID: id, credit: 4))
        XCTAssertEqual(sender.transfersUnderway, 1)
        XCTAssertEqual(first.map(\.index), [0, 1, 2, 3])
        XCTAssertEqual(first.map(\.offset), [0, 10, 20, 30])
        XCTAssertTrue(first.allSatisfy { $0.total == 10 && $0.length == 10 && $0.file == file })
        XCTAssertEqual(sender.grant(ChunkCredit(transferID: id, credit: 0)), [])
        XCTAssertEqual(sender.grant(ChunkCredit(transferID: id, credit: 1)).map(\.index), [4])
        let rest = sender.grant(ChunkCredit(transferID: id, credit: 100))
        XCTAssertEqual(rest.map(\.index), [5, 6, 7, 8, 9])
        XCTAssertEqual(rest.last?.length, 5)
        XCTAssertEqual([sender.pendingTransfers, sender.transfersUnderway], [0, 0], "forgotten once the last chunk is out")
        XCTAssertEqual(sender.grant(ChunkCredit(transferID: id, credit: 1)), [])
    }

    func testReceiverReassemblesInOrderAndKeepsTheWindowFull() {
        let bytes = (0..<95).map { UInt8($0 * 7 % 251) }
        let id = CheckpointTransfer.transferID(for: key)
        var receiver = ChunkReceiver(transferID: id, expectedSize: 95, expectedSHA256: digest(bytes), window: 4, at: 0)
        XCTAssertEqual(receiver.initialCredit, 4)
        var sender = ChunkSender(chunkSize: 10)
        sender.offer(key, file: file, size: 95)
        var queue = sender.grant(ChunkCredit(transferID: id, credit: receiver.initialCredit))
        var outcomes: [ChunkReceiver.Outcome] = []
        while !queue.isEmpty {
            XCTAssertLessThanOrEqual(receiver.granted - receiver.received, 4)
            let piece = queue.removeFirst()
            let chunk = Chunk(transferID: id, index: piece.index, total: piece.total,
                              payload: Array(bytes[piece.offset..<(piece.offset + piece.length)]))
            let outcome = receiver.accept(chunk, at: Double(piece.index))
            outcomes.append(outcome)
            if case let .accepted(credit) = outcome, credit > 0 {
                queue += sender.grant(ChunkCredit(transferID: id, credit: credit))
            }
        }
        XCTAssertEqual(outcomes.last, .complete)
        XCTAssertEqual(outcomes.count, 10)
        XCTAssertEqual(receiver.granted, 10, "never grants beyond the total")
        XCTAssertEqual(receiver.bytes, 95)
    }

    func testReceiverRejectsBadTransfers() {
        let bytes: [UInt8] = Array(repeating: 1, count: 20)
        let id = CheckpointTransfer.transferID(for: key)
        func fresh(size: Int = 20, sha: String? = nil, window: Int = 4) -> ChunkReceiver {
            ChunkReceiver(transferID: id, expectedSize: size, expectedSHA256: sha ?? digest(bytes), window: window, at: 0)
        }
        let half = Array(bytes[0..<10])
        func reject(_ receiver: inout ChunkReceiver, _ chunk: Chunk, _ text: String) {
            guard case let .rejected(reason) = receiver.accept(chunk, at: 1) else {
                return XCTFail("accepted \(chunk.index) (\(text))")
            }
            XCTAssertTrue(reason.contains(text), reason)
        }
        var outOfOrder = fresh()
        reject(&outOfOrder, Chunk(transferID: id, index: 1, total: 2, payload: half), "was due")
        var tooLarge = fresh(size: 5)
        reject(&tooLarge, Chunk(transferID: id, index: 0, total: 2, payload: half), "announced")
        var changedTotal = fresh()
        XCTAssertEqual(changedTotal.accept(Chunk(transferID: id, index: 0, total: 2, payload: half), at: 1),
                       .accepted(credit: 0))
        reject(&changedTotal, Chunk(transferID: id, index: 1, total: 3, payload: half), "earlier ones said")
        var oneAtATime = fresh(window: 1)
        XCTAssertEqual(oneAtATime.accept(Chunk(transferID: id, index: 0, total: 3, payload: [1]), at: 1),
                       .accepted(credit: 1))
        XCTAssertEqual(oneAtATime.accept(Chunk(transferID: id, index: 1, total: 3, payload: [1]), at: 1),
                       .accepted(credit: 1))
        var short = fresh()
        _ = short.accept(Chunk(transferID: id, index: 0, total: 2, payload: half), at: 1)
        reject(&short, Chunk(transferID: id, index: 1, total: 2, payload: [1]), "11 bytes, 20 announced")
        var corrupt = fresh(sha: String(repeating: "0", count: 64))
        _ = corrupt.accept(Chunk(transferID: id, index: 0, total: 2, payload: half), at: 1)
        reject(&corrupt, Chunk(transferID: id, index: 1, total: 2, payload: half), "differs")
        var foreign = fresh()
        reject(&foreign, Chunk(transferID: id + 1, index: 0, total: 2, payload: half), "transfer")
    }
}
