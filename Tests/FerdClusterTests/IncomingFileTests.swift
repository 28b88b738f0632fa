import FerdDigest
import Foundation
import Logging
import XCTest
@testable import FerdCluster

final class IncomingFileTests: XCTestCase {
    private let transferID: UInt64 = 42
    private let bytes = (0..<25).map { UInt8($0 * 7 % 251) }
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("incoming-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private func digest(_ bytes: [UInt8]) -> String {
        var sha = SHA256()
        sha.update(bytes)
        return sha.hexDigest()
    }

    private func chunks(of bytes: [UInt8], size: Int = 10) -> [Chunk] {
        let total = CheckpointTransfer.chunkCount(size: bytes.count, chunkSize: size)
        return (0..<total).map {
            Chunk(transferID: transferID, index: $0, total: total,
                  payload: Array(bytes[($0 * size)..<min(bytes.count, ($0 + 1) * size)]))
        }
    }

    private func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    private func start(sha256: String? = nil) throws -> IncomingFile {
        try IncomingFile(destination: directory.appendingPathComponent("best.safetensors"), transferID: transferID,
                         expected: CheckpointDescriptor(size: bytes.count, sha256: sha256 ?? digest(bytes)), at: 0)
    }

    func testInOrderChunksGiveTheVerifiedFileAtItsDestination() throws {
        var file = try start()
        XCTAssertEqual(file.receiver.initialCredit, CheckpointTransfer.window)
        XCTAssertEqual(files(), ["best.safetensors.partial"], "the folder and the partial file are created")
        var progress: [IncomingFile.Progress] = []
        for chunk in chunks(of: bytes) {
            progress.append(try file.receive(chunk, at: 1))
        }
        XCTAssertEqual(progress, [.accepted(credit: 0), .accepted(credit: 0), .complete])
        XCTAssertEqual(files(), ["best.safetensors"], "renamed into place, no partial left")
        XCTAssertEqual(Array(try Data(contentsOf: file.destination)), bytes)
        XCTAssertEqual(file.receiver.bytes, bytes.count)
    }

    func testTheLastChunkReplacesAnOlderFileAtTheDestination() throws {
        var file = try start()
        try Data([9, 9, 9]).write(to: file.destination)
        for chunk in chunks(of: bytes) {
            _ = try file.receive(chunk, at: 1)
        }
        XCTAssertEqual(Array(try Data(contentsOf: file.destination)), bytes)
    }

    func testAWrongDigestIsAnErrorAndLeavesNoFile() throws {
        var file = try start(sha256: String(repeating: "0", count: 64))
        let pieces = chunks(of: bytes)
        for chunk in pieces.dropLast() {
            XCTAssertEqual(try file.receive(chunk, at: 1), .accepted(credit: 0))
        }
        do {
            _ = try file.receive(pieces[pieces.count - 1], at: 1)
            XCTFail("a file with the wrong SHA-256 was accepted")
        } catch {
            guard case let .rejected(reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.contains("differs from the announced"), reason)
        }
        XCTAssertEqual(files(), [], "neither the partial nor the destination file is left")
    }

    func testAnOutOfOrderChunkIsAnErrorAndLeavesNoFile() throws {
        var file = try start()
        XCTAssertThrowsError(try file.receive(chunks(of: bytes)[1], at: 1)) { error in
            XCTAssertTrue("\(error)".contains("was due"), "\(error)")
        }
        XCTAssertEqual(files(), [])
    }

    func testAbandonDeletesThePartialFile() throws {
        var file = try start()
        _ = try file.receive(chunks(of: bytes)[0], at: 1)
        file.abandon()
        XCTAssertEqual(files(), [])
        file.abandon()
        XCTAssertEqual(files(), [], "abandoning twice is harmless")
    }

    func testADestinationThatCannotBeCreatedIsAnError() throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let blocker = directory.appendingPathComponent("not-a-folder")
        try Data([1]).write(to: blocker)
        XCTAssertThrowsError(try IncomingFile(destination: blocker.appendingPathComponent("best.safetensors"),
                                              transferID: transferID,
                                              expected: CheckpointDescriptor(size: 1, sha256: digest([1])), at: 0))
    }
}

/// What the worker does with an assignment whose resume checkpoint it cannot fetch.
final class ResumeDownloadFailureTests: XCTestCase {
    private let resume = ResumePoint(epoch: 3, checkpoint: CheckpointDescriptor(size: 10, sha256: String(repeating: "ab", count: 32)))

    func testASingleWorkerStartsFromScratch() {
        let ready = ResumeDownloads.Ready.withoutCheckpoint(
            Assignment(trialID: 5, attempt: 2, configJSON: "{}", resume: resume), reason: "no chunk for 10 s")
        XCTAssertNil(ready.failure)
        XCTAssertNil(ready.assignment.resume, "starts from epoch 1")
        XCTAssertNil(ready.file)
    }

    func testAGangMemberFailsTheAttemptInsteadOfTrainingFromAnotherState() {
        let gang = GangPlacement(gangID: 9, rank: 1, size: 2, hubEndpoint: "tcp://head:5556")
        let ready = ResumeDownloads.Ready.withoutCheckpoint(
            Assignment(trialID: 5, attempt: 2, configJSON: "{}", resume: resume, gang: gang), reason: "no chunk for 10 s")
        XCTAssertEqual(ready.assignment.resume, resume)
        XCTAssertTrue(ready.failure?.contains("no chunk for 10 s") == true, "\(String(describing: ready.failure))")
    }

    func testAFolderThatCannotBeCreatedDoesNotStartAGangMemberFromScratch() throws {
        let blocker = FileManager.default.temporaryDirectory.appendingPathComponent("blocker-\(UUID().uuidString)")
        try Data("not a folder".utf8).write(to: blocker)
        defer { try? FileManager.default.removeItem(at: blocker) }
        let downloads = ResumeDownloads(directory: blocker.appendingPathComponent("downloads"), stallTimeout: 10,
                                        logger: Logger(label: "test"))
        let gang = GangPlacement(gangID: 9, rank: 0, size: 2, hubEndpoint: "tcp://head:5556")
        guard case let .startNow(ready) = downloads.begin(
            Assignment(trialID: 5, attempt: 2, configJSON: "{}", resume: resume, gang: gang), at: 0) else {
            return XCTFail("a download began in a folder under a file")
        }
        XCTAssertNotNil(ready.failure)
    }
}
