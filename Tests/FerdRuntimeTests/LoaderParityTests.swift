import FerdData
import FerdModels
import FerdTraining
import Foundation
import Logging
import XCTest
@testable import FerdRuntime

/// The torch engine's loader (Engines/torch/ferd_torch/data.py) against Swift's `FoldBatches` on one packed cache:
/// for several seeds and two epochs, the same clips, batch plans, frame indices and augmentation parameters
/// exactly, and the same pixels to `pixelTolerance`. Each dump also opens the cache in Python, so the torch
/// engine's digest of the dataset must equal the one `ferd prepare` wrote. Needs a Python with torch (`make test`
/// installs Debian's python3-torch); without one the tests fail.
final class LoaderParityTests: XCTestCase {
    /// The largest pixel difference allowed: the torch loader computes the same integer resize and the same float32
    /// values, so it is bit-identical.
    static let pixelTolerance: Float = 0
    /// The frames are prepared at this size; the model sizes below crop and resize from it.
    static let cacheSize = 40
    nonisolated(unsafe) static var fixture: (python: TorchPython, data: URL, cache: URL)?
    private var folder: URL!
    private let logger: Logger = {
        var logger = Logger(label: "test.loader-parity")
        logger.logLevel = .warning
        return logger
    }()

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("loader-parity-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        if Self.fixture == nil {
            let python = try TorchPython.locate()
            let shared = FileManager.default.temporaryDirectory.appendingPathComponent("loader-parity-data-\(UUID().uuidString)")
            let data = shared.appendingPathComponent("data"), cache = shared.appendingPathComponent("cache")
            _ = try SyntheticDataset.write(to: data, clips: 30, frames: 3...9, size: 48, seed: 6, logger: logger)
            _ = try PackedCacheWriter.prepare(dataRoot: data.path, cacheDirectory: cache.path,
                                              options: PrepareOptions(size: Self.cacheSize), logger: logger)
            Self.fixture = (python, data, cache)
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: folder)
    }

    private func settings(frames: Int, imageSize: Int, seed: UInt64) -> TrainingSettings {
        var model = ModelConfiguration.small
        model.frames = frames
        model.imageSize = imageSize
        return TrainingSettings(model: model, batchSize: 4, seed: seed)
    }

    func testTrainingAndTestBatchesMatchAtASmallerSize() throws {
        var crops: Set<String> = [], flips: Set<Bool> = []
        for seed: UInt64 in [1, 2] {
            let parameters = try compare(settings(frames: 4, imageSize: 32, seed: seed), quirks: false, epochs: [0, 1],
                                         shard: .whole)
            crops.formUnion(parameters.map { if case .sized = $0.crop { "sized" } else { "scaled" } })
            flips.formUnion(parameters.map(\.flip))
        }
        XCTAssertEqual(crops, ["sized", "scaled"], "both crops (and the fallback's resize) were compared")
        XCTAssertEqual(flips, [false, true])
    }

    /// FERV39k (8×2 sampling) and RAF-DB (1-frame clips, quirks ignored) caches written by `ferd prepare`: the torch
    /// engine re-lists the same clips for the digest and loads the same batches.
    func testFERV39kAndRAFDBCachesMatch() throws {
        let shared = folder.appendingPathComponent("layouts")
        for layout in [SyntheticLayout.ferv39k, .rafdb] {
            let data = shared.appendingPathComponent(layout.rawValue), cache = shared.appendingPathComponent(layout.rawValue + "-cache")
            _ = try SyntheticDataset.write(to: data, clips: 14, frames: 3...9, size: 48, seed: 8, layout: layout, logger: logger)
            _ = try PackedCacheWriter.prepare(dataRoot: data.path, cacheDirectory: cache.path,
                                              options: PrepareOptions(size: Self.cacheSize), logger: logger)
            try compare(settings(frames: 4, imageSize: 32, seed: 5), quirks: true, epochs: [0, 1], shard: .whole,
                        dataset: (data, cache))
            let swift = try FoldBatches(source: DataSource(root: data.path, cache: cache.path), fold: 1,
                                        settings: settings(frames: 4, imageSize: 32, seed: 5), logger: logger)
            XCTAssertEqual(swift.train.options.sampler.framesPerSegment, layout == .ferv39k ? 2 : 1)
        }
    }

    func testReferenceQuirksMatchAtTheCacheSize() throws {
        try compare(settings(frames: 6, imageSize: Self.cacheSize, seed: 3), quirks: true, epochs: [0, 1], shard: .whole)
    }

    func testGangMembersSharesMatch() throws {
        let settings = settings(frames: 4, imageSize: 32, seed: 4)
        for rank in [1, 3] {
            try compare(settings, quirks: false, epochs: [1], shard: ClipShard(rank: rank, count: 4))
        }
        let fixture = try XCTUnwrap(Self.fixture)
        let swift = try FoldBatches(source: DataSource(root: fixture.data.path, cache: fixture.cache.path), fold: 1,
                                    settings: settings, logger: logger)
        XCTAssertEqual(swift.test.batchPlan(epoch: 0, shard: ClipShard(rank: 3, count: 4)).last, [],
                       "member 3 gets an empty part of the last test batch, which was compared too")
    }

    /// Runs the torch dump for `settings` and compares it with Swift's loaders; returns the augmentation parameters
    /// of the training clips.
    @discardableResult
    private func compare(_ settings: TrainingSettings, quirks: Bool, epochs: [Int], shard: ClipShard,
                         dataset: (data: URL, cache: URL)? = nil,
                         file: StaticString = #filePath, line: UInt = #line) throws -> [AugmentationParameters] {
        let fixture = try XCTUnwrap(Self.fixture)
        let dataset = dataset ?? (fixture.data, fixture.cache)
        let swift = try FoldBatches(source: DataSource(root: dataset.data.path, cache: dataset.cache.path,
                                                       referenceQuirks: quirks),
                                    fold: 1, settings: settings, logger: logger)
        let (described, pixels) = try dump(settings, quirks: quirks, epochs: epochs, shard: shard, cache: dataset.cache)
        let train = try XCTUnwrap(described["train"] as? [String: Any]), test = try XCTUnwrap(described["test"] as? [String: Any])
        XCTAssertEqual(train["clips"] as? [String], swift.train.clips.map(\.id), "training clips", file: file, line: line)
        XCTAssertEqual(test["clips"] as? [String], swift.test.clips.map(\.id), "test clips", file: file, line: line)
        if quirks && dataset.cache == fixture.cache { XCTAssertFalse(swift.train.dropped.isEmpty, "some clips are shorter than T", file: file, line: line) }

        var offset = 0
        var drawn: [AugmentationParameters] = []
        let epochList = try XCTUnwrap(train["epochs"] as? [[String: Any]])
        XCTAssertEqual(epochList.count, epochs.count)
        for (epoch, torch) in zip(epochs, epochList) {
            let context = "seed \(settings.seed), epoch \(epoch), \(shard)"
            XCTAssertEqual(torch["plan"] as? [[Int]], swift.train.batchPlan(epoch: epoch, shard: shard),
                           "training batch plan, \(context)", file: file, line: line)
            XCTAssertEqual(torch["indices"] as? [[Int]], indices(swift.train, epoch: epoch), "training frame indices, \(context)",
                           file: file, line: line)
            let parameters = try XCTUnwrap(torch["parameters"] as? [[String: Any]]).map(Self.parameters)
            let expected = try XCTUnwrap(augmentations(swift.train, epoch: epoch))
            XCTAssertEqual(parameters, expected, "augmentation parameters, \(context)", file: file, line: line)
            drawn += expected
            try compareBatches(swift.train.batches(epoch: epoch, shard: shard), labels: torch["labels"], pixels: pixels,
                               offset: &offset, context: "training, \(context)", file: file, line: line)
        }
        XCTAssertEqual(test["plan"] as? [[Int]], swift.test.batchPlan(epoch: 0, shard: shard), "test batch plan",
                       file: file, line: line)
        XCTAssertEqual(test["indices"] as? [[Int]], indices(swift.test, epoch: 0), "test frame indices", file: file, line: line)
        try compareBatches(swift.test.batches(epoch: 0, shard: shard), labels: test["labels"], pixels: pixels,
                           offset: &offset, context: "test, seed \(settings.seed), \(shard)", file: file, line: line)
        XCTAssertEqual(offset, pixels.count, "the dump holds no other batches", file: file, line: line)
        return drawn
    }

    private func indices(_ loader: ClipLoader, epoch: Int) -> [[Int]] {
        loader.clips.indices.map {
            loader.options.sampler.indices(frameCount: loader.clips[$0].frames.count, mode: loader.options.mode,
                                           seed: loader.options.seed, epoch: epoch, clip: $0)
        }
    }

    private func augmentations(_ loader: ClipLoader, epoch: Int) -> [AugmentationParameters]? {
        loader.options.augmentation.map { augmentation in
            loader.clips.indices.map {
                augmentation.parameters(width: Self.cacheSize, height: Self.cacheSize, seed: loader.options.seed,
                                        epoch: epoch, clip: $0)
            }
        }
    }

    /// Compares Swift's batches with the torch labels and the next pixels of the dump.
    private func compareBatches(_ batches: ClipBatchSequence, labels: Any?, pixels: [Float], offset: inout Int,
                                context: String, file: StaticString, line: UInt) throws {
        let torchLabels = try XCTUnwrap(labels as? [[Int]], context, file: file, line: line)
        var count = 0
        for result in batches {
            let batch = try result.get()
            XCTAssertEqual(torchLabels[count], batch.labels, "labels of batch \(count), \(context)", file: file, line: line)
            let end = offset + batch.values.count
            XCTAssertLessThanOrEqual(end, pixels.count, "the dump has batch \(count), \(context)", file: file, line: line)
            guard end <= pixels.count else { return }
            var largest: Float = 0
            for (a, b) in zip(batch.values, pixels[offset..<end]) { largest = max(largest, abs(a - b)) }
            XCTAssertLessThanOrEqual(largest, Self.pixelTolerance, "pixels of batch \(count), \(context)", file: file, line: line)
            offset = end
            count += 1
        }
        XCTAssertEqual(count, torchLabels.count, "batches, \(context)", file: file, line: line)
    }

    /// A parameter set as the dump writes it.
    private static func parameters(_ described: [String: Any]) throws -> AugmentationParameters {
        let crop = try XCTUnwrap(described["crop"] as? [Any])
        let numbers = crop.dropFirst().compactMap { $0 as? Int }
        XCTAssertEqual(numbers.count, 4)
        let box: AugmentationParameters.Crop = crop.first as? String == "sized"
            ? .sized(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
            : .scaled(width: numbers[0], height: numbers[1], x: numbers[2], y: numbers[3])
        let brightness = try XCTUnwrap(described["brightness_bits"] as? Int)
        let angle = try XCTUnwrap((described["angle_bits"] as? String).flatMap { UInt64($0, radix: 16) })
        return AugmentationParameters(crop: box, flip: try XCTUnwrap(described["flip"] as? Bool),
                                      brightness: Float(bitPattern: UInt32(brightness)), angle: Double(bitPattern: angle))
    }

    /// Runs `python3 -m ferd_torch.data dump` and returns its description and its pixels.
    private func dump(_ settings: TrainingSettings, quirks: Bool, epochs: [Int], shard: ClipShard, cache: URL) throws
        -> (described: [String: Any], pixels: [Float]) {
        let fixture = try XCTUnwrap(Self.fixture)
        let settingsFile = folder.appendingPathComponent("settings.json"), out = folder.appendingPathComponent("dump")
        try JSONEncoder().encode(settings).write(to: settingsFile)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: fixture.python.executable)
        process.arguments = ["-m", "ferd_torch.data", "dump", "--cache", cache.path, "--fold", "1",
                             "--settings-json", settingsFile.path, "--epochs", epochs.map(String.init).joined(separator: ","),
                             "--out", out.path, "--rank", "\(shard.rank)", "--world-size", "\(shard.count)"]
            + (quirks ? ["--reference-quirks"] : [])
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Engines/torch").standardizedFileURL.path
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let log = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw DumpFailure(description: "ferd_torch.data dump exited with \(process.terminationStatus):\n\(log.suffix(3000))")
        }
        let described = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: out.appendingPathComponent("loader.json"))) as? [String: Any])
        return (described, try Self.readNPY(out.appendingPathComponent("batches.npy")))
    }

    /// The values of a little-endian float32 C-order `.npy` file (format 1.0 or 2.0).
    private static func readNPY(_ url: URL) throws -> [Float] {
        let bytes = [UInt8](try Data(contentsOf: url))
        guard bytes.count >= 12, bytes.prefix(6) == [0x93] + Array("NUMPY".utf8) else {
            throw DumpFailure(description: "\(url.path) is not a .npy file")
        }
        let (start, length) = bytes[6] == 1
            ? (10, Int(bytes[8]) | Int(bytes[9]) << 8)
            : (12, Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24)
        let header = String(decoding: bytes[start..<(start + length)], as: UTF8.self)
        guard header.contains("'descr': '<f4'"), header.contains("'fortran_order': False") else {
            throw DumpFailure(description: "\(url.path) holds \(header), not C-order little-endian float32")
        }
        let body = bytes[(start + length)...]
        return body.withUnsafeBytes { raw in
            (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    private struct DumpFailure: Error, CustomStringConvertible {
        var description: String
    }
}
