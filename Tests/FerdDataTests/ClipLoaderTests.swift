@testable import FerdData
import FerdTestSupport
import Logging
import Synchronization
import XCTest

/// `ClipLoader`: batch shapes and labels, drop_last, shuffling, cache vs JPEG parity, prefetching
/// sequences and errors.
final class ClipLoaderTests: XCTestCase {
    private var root = ""
    private var data = ""
    private let quiet: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-loader-\(UUID())").path
        data = root + "/dataset"
        _ = try SyntheticDataset(clips: 14, frames: 4...20, size: 16, seed: 8)
            .write(to: URL(fileURLWithPath: data), logger: quiet)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func allClips() throws -> [ClipRecord] {
        try DatasetIndex.load(root: data, logger: quiet).distinctClips().map(\.record)
    }

    private func options(_ mode: SamplingMode, batch: Int = 4, segments: Int = 4) -> ClipLoaderOptions {
        var options = ClipLoaderOptions(mode: mode, sampler: ClipSampler(segments: segments), size: 16,
                                        batchSize: batch, seed: 11)
        options.workers = 2
        return options
    }

    func testShapesLabelsAndDropLast() throws {
        let clips = try allClips()
        let loader = try ClipLoader(clips: clips, store: .jpegFolders, options: options(.train), logger: quiet)
        XCTAssertEqual(loader.batchCount, 3, "14 clips in batches of 4, last dropped")
        var seen = [String]()
        for result in loader.batches(epoch: 0) {
            let batch = try result.get()
            XCTAssertEqual(batch.shape, [4, 4, 3, 16, 16])
            XCTAssertTrue(batch.values.allSatisfy { (0...1).contains($0) })
            for (id, label) in zip(batch.clipIDs, batch.labels) {
                XCTAssertEqual(clips.first { $0.id == id }?.label, label)
            }
            seen += batch.clipIDs
        }
        XCTAssertEqual(seen.count, 12)
        XCTAssertEqual(Set(seen).count, 12)
        let test = try ClipLoader(clips: clips, store: .jpegFolders, options: options(.test), logger: quiet)
        XCTAssertEqual(test.batchCount, 4)
        XCTAssertEqual(test.batchPlan(epoch: 0).flatMap { $0 }, Array(0..<14), "no shuffle, keeps the last batch")
        XCTAssertEqual(try test.batch([12, 13], epoch: 0).shape, [2, 4, 3, 16, 16])
    }

    func testShuffleIsSeededPerEpoch() throws {
        let clips = try allClips()
        let a = try ClipLoader(clips: clips, store: .jpegFolders, options: options(.train), logger: quiet)
        let b = try ClipLoader(clips: clips, store: .jpegFolders, options: options(.train), logger: quiet)
        XCTAssertEqual(a.batchPlan(epoch: 1), b.batchPlan(epoch: 1))
        XCTAssertNotEqual(a.batchPlan(epoch: 1), a.batchPlan(epoch: 2))
        let first = try a.batch(a.batchPlan(epoch: 1)[0], epoch: 1)
        let again = try b.batches(epoch: 1).nextBatch()
        XCTAssertEqual(first.values, again?.values, "the same seed gives the same batch, whichever thread builds it")
        XCTAssertEqual(first.clipIDs, again?.clipIDs)
    }

    func testCacheAndJPEGFoldersGiveTheSameBatches() throws {
        _ = try PackedCacheWriter.prepare(dataRoot: data, cacheDirectory: root + "/cache",
                                          options: PrepareOptions(size: 16, workers: 2), logger: quiet)
        let cache = try PackedCache(directory: root + "/cache", logger: quiet)
        let clips = try XCTUnwrap(cache.fold(2)).train
        for mode in SamplingMode.allCases {
            let fast = try ClipLoader(clips: clips, store: .cache(cache), options: options(mode), logger: quiet)
            let slow = try ClipLoader(clips: clips, store: .jpegFolders, options: options(mode), logger: quiet)
            let plan = fast.batchPlan(epoch: 3)
            XCTAssertEqual(plan, slow.batchPlan(epoch: 3))
            let a = try fast.batch(plan[0], epoch: 3), b = try slow.batch(plan[0], epoch: 3)
            XCTAssertEqual(a.values, b.values, "\(mode)")
            XCTAssertEqual(a.labels, b.labels)
        }
    }

    func testTestModeIsPlainResizeOfSampledFrames() throws {
        let clip = try allClips()[0]
        let loader = try ClipLoader(clips: [clip], store: .jpegFolders, options: options(.test, batch: 1), logger: quiet)
        let batch = try loader.batch([0], epoch: 0)
        let indices = ClipSampler(segments: 4).indices(frameCount: clip.frames.count, mode: .test, seed: 0, epoch: 0,
                                                       clip: 0)
        let decoder = JPEGDecoder()
        for (t, index) in indices.enumerated() {
            let image = try decoder.decodeFile(atPath: clip.frames[index])
            let expected = FrameTransform(testingWidth: 16, height: 16, size: 16).apply(image)
            XCTAssertEqual(Array(batch.values[(t * 768)..<((t + 1) * 768)]), expected)
        }
    }

    func testReferenceQuirksDropShortClips() throws {
        let clips = try allClips()
        var quirky = options(.test)
        quirky.sampler = ClipSampler(segments: 8, referenceQuirks: true)
        let loader = try ClipLoader(clips: clips, store: .jpegFolders, options: quirky, logger: quiet)
        XCTAssertEqual(loader.clips.count + loader.dropped.count, clips.count)
        XCTAssertTrue(loader.dropped.allSatisfy { $0.frames.count < 8 })
        XCTAssertTrue(loader.clips.allSatisfy { $0.frames.count >= 8 })
    }

    func testMissingFrameSurfacesAsError() throws {
        var clips = try allClips()
        clips[1].frames = clips[1].frames.map { _ in clips[1].directory + "/missing.jpg" }
        let loader = try ClipLoader(clips: Array(clips.prefix(4)), store: .jpegFolders, options: options(.test, batch: 2),
                                    logger: quiet)
        let batches = loader.batches(epoch: 0)
        guard case let .failure(error)? = batches.next() else { return XCTFail("expected the missing frame's error") }
        XCTAssertTrue(error.file.hasSuffix("missing.jpg"))
        XCTAssertNil(batches.next(), "the epoch ends after an error")
    }

    func testDamagedFrameStopsTheEpochOrItsClipIsSkippedOnceWithAWarning() throws {
        for damage in DamagedJPEG.allCases {
            try? FileManager.default.removeItem(atPath: data)
            _ = try SyntheticDataset(clips: 14, frames: 4...20, size: 16, seed: 8)
                .write(to: URL(fileURLWithPath: data), logger: quiet)
            let clips = try allClips()
            let victim = clips[5]
            for frame in victim.frames { try damage.apply(to: frame) }
            let strict = try ClipLoader(clips: clips, store: .jpegFolders, options: options(.test), logger: quiet)
            let failures = strict.batches(epoch: 0).compactMap { result -> DataError? in
                if case let .failure(error) = result { return error } else { return nil }
            }
            XCTAssertEqual(failures.count, 1, "\(damage)")
            XCTAssertTrue(victim.frames.contains(failures.first?.file ?? ""), "\(damage): \(failures)")

            let warnings = WarningRecorder()
            for mode in [SamplingMode.train, .test] {
                var skipping = options(mode, batch: mode == .test ? 1 : 2)
                skipping.skipBad = true
                let loader = try ClipLoader(clips: clips, store: .jpegFolders, options: skipping, logger: warnings.logger)
                for epoch in 0..<2 {
                    var seen = [String]()
                    for result in loader.batches(epoch: epoch) { seen += try result.get().clipIDs }
                    XCTAssertFalse(seen.contains(victim.id), "\(damage), \(mode), epoch \(epoch)")
                    XCTAssertEqual(seen.count, 13, "\(damage), \(mode): the other 13 clips are all read")
                }
                XCTAssertEqual(loader.skipped.map(\.clip.id), [victim.id], "\(damage), \(mode)")
            }
            XCTAssertEqual(warnings.messages.count, 2, "one warning per loader, not per epoch: \(warnings.messages)")
            XCTAssertTrue(warnings.messages.allSatisfy { $0.contains("skipped clip \(victim.id)") && $0.contains(victim.directory) },
                          "\(warnings.messages)")
        }
    }

    func testCacheWithoutClipSaysRerunPrepare() throws {
        _ = try PackedCacheWriter.prepare(dataRoot: data, cacheDirectory: root + "/cache",
                                          options: PrepareOptions(size: 16, workers: 2), logger: quiet)
        let cache = try PackedCache(directory: root + "/cache", logger: quiet)
        let stranger = ClipRecord(id: "99999", directory: "/nowhere", frames: [], label: 0)
        XCTAssertThrowsError(try ClipLoader(clips: [stranger], store: .cache(cache), options: options(.train),
                                            logger: quiet)) { error in
            XCTAssertTrue("\(error)".contains("ferd prepare"))
        }
    }

    func testDroppingASequenceMidEpochDoesNotHang() throws {
        let loader = try ClipLoader(clips: try allClips(), store: .jpegFolders, options: options(.test, batch: 1),
                                    logger: quiet)
        var batches: ClipBatchSequence? = loader.batches(epoch: 0)
        XCTAssertNotNil(try batches?.nextBatch())
        batches = nil
        XCTAssertNil(batches)
    }
}

/// Collects the warnings logged through `logger`.
private final class WarningRecorder: Sendable {
    private let lines = Mutex([String]())

    var messages: [String] { lines.withLock { $0 } }

    var logger: Logger {
        Logger(label: "test") { _ in Handler(recorder: self) }
    }

    private struct Handler: LogHandler {
        let recorder: WarningRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .warning

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            recorder.lines.withLock { $0.append("\(event.message)") }
        }
    }
}
