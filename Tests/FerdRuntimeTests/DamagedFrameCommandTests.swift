import FerdData
import FerdTestSupport
import Foundation
import Logging
import XCTest

/// `ferd prepare`, `ferd train` on JPEG folders and `ferd predict` on a dataset whose clip has its first
/// frame cut to 300 bytes: each stops naming the file and the fix, or with --skip-bad leaves the clip out
/// with a warning and goes on.
final class DamagedFrameCommandTests: XCTestCase {
    private var directory = URL(fileURLWithPath: "/")

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-damaged-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testEveryCommandNamesTheDamagedFrameOrSkipsItsClip() throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let data = directory.appendingPathComponent("data").path
        _ = try SyntheticDataset(clips: 20, frames: 8...12, size: 56, seed: 3).write(to: URL(fileURLWithPath: data), logger: quiet)
        let train = ["train", "--data", data, "--fold", "1", "--epochs", "1", "--batch", "4", "--threads", "2"]
        XCTAssertEqual(try ferd(train + ["--out", "run"]).status, 0)
        let fold = try XCTUnwrap(DatasetIndex.load(root: data, logger: quiet).fold(1))
        let victim = try XCTUnwrap(fold.test.first), other = try XCTUnwrap(fold.test.last)
        try DamagedJPEG.truncated.apply(to: victim.frames[0])

        let predict = ["predict", "--checkpoint", "run/best.safetensors", "--input", victim.directory]
        let prepare = ["prepare", "--data", data, "--out", "cache", "--size", "56", "--threads", "2"]
        for command in [predict, train + ["--out", "run-strict"], prepare] {
            let run = try ferd(command)
            XCTAssertEqual(run.status, 1, "\(command[0]): \(run.output)")
            XCTAssertTrue(run.output.contains("\(victim.frames[0]): not a readable JPEG"), "\(command[0]): \(run.output)")
            XCTAssertTrue(run.output.contains("--skip-bad"), "\(command[0]): \(run.output)")
        }

        let skippedPredict = try ferd(predict + ["--input", other.directory, "--skip-bad"])
        XCTAssertEqual(skippedPredict.status, 0, skippedPredict.output)
        XCTAssertTrue(skippedPredict.output.contains("skipped clip \(victim.directory)"), skippedPredict.output)
        XCTAssertTrue(skippedPredict.output.contains("\(other.directory): "), skippedPredict.output)
        XCTAssertFalse(skippedPredict.output.contains("\(victim.directory): "), skippedPredict.output)
        let skippedTrain = try ferd(train + ["--out", "run-skip", "--skip-bad"])
        XCTAssertEqual(skippedTrain.status, 0, skippedTrain.output)
        XCTAssertTrue(skippedTrain.output.contains("skipped clip \(victim.id)"), skippedTrain.output)
        let skippedPrepare = try ferd(prepare + ["--skip-bad"])
        XCTAssertEqual(skippedPrepare.status, 0, skippedPrepare.output)
        XCTAssertTrue(skippedPrepare.output.contains("skipped 1 clips"), skippedPrepare.output)
        XCTAssertTrue(skippedPrepare.output.contains("\(victim.id): \(victim.frames[0])"), skippedPrepare.output)
    }

    /// Runs `ferd` in the test's folder; its exit status and standard output and error together.
    private func ferd(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let log = directory.appendingPathComponent("ferd-\(arguments[0]).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = ProcessClusterTests.ferd
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        return (process.terminationStatus, try String(contentsOf: log, encoding: .utf8))
    }
}
