@testable import FerdData
import FerdTestSupport
import Logging
import XCTest

/// `ferd prepare`'s packed cache: round trip against direct JPEG decoding, digest checks, bad clips.
final class PackedCacheTests: XCTestCase {
    private var root = ""
    private var data = ""
    private var cacheDirectory = ""
    private let quiet: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-cache-\(UUID())").path
        data = root + "/dataset"
        cacheDirectory = root + "/cache"
        _ = try SyntheticDataset(clips: 12, frames: 3...20, size: 24, seed: 4)
            .write(to: URL(fileURLWithPath: data), logger: quiet)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    private func prepare(size: Int = 16, skipBad: Bool = false) throws -> PrepareReport {
        try PackedCacheWriter.prepare(dataRoot: data, cacheDirectory: cacheDirectory,
                                      options: PrepareOptions(size: size, load: DatasetLoadOptions(skipBad: skipBad),
                                                              workers: 2),
                                      logger: quiet)
    }

    func testRoundTripMatchesDirectDecoding() throws {
        let report = try prepare()
        XCTAssertEqual(report.clips, 12)
        XCTAssertTrue(report.skipped.isEmpty)
        let cache = try PackedCache(directory: cacheDirectory, logger: quiet)
        XCTAssertEqual(cache.size, 16)
        XCTAssertEqual(cache.clips.map(\.id), (0..<12).map(SyntheticDataset.clipName))
        let index = try DatasetIndex.load(root: data, logger: quiet)
        XCTAssertNoThrow(try cache.verify(against: index))
        let decoder = JPEGDecoder()
        for fold in 1...5 {
            let live = try XCTUnwrap(index.fold(fold)), cached = try XCTUnwrap(cache.fold(fold))
            XCTAssertEqual(cached.train, live.train)
            XCTAssertEqual(cached.test, live.test)
        }
        for clip in cache.clips {
            let record = cache.record(clip)
            XCTAssertEqual(record.frames.count, clip.frameCount)
            for f in [0, clip.frameCount - 1] {
                let expected = try decoder.decodeFile(atPath: record.frames[f]).resized(width: 16, height: 16)
                XCTAssertEqual(Array(cache.frame(f, of: clip)), expected.pixels, "clip \(clip.id) frame \(f)")
            }
        }
    }

    func testChangedDatasetIsDetected() throws {
        _ = try prepare()
        let cache = try PackedCache(directory: cacheDirectory, logger: quiet)
        XCTAssertNoThrow(try cache.verifyDataset(logger: quiet))
        let frame = cache.record(cache.clips[3]).frames[1]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: frame))
        bytes.append(0)
        try bytes.write(to: URL(fileURLWithPath: frame))
        XCTAssertThrowsError(try cache.verifyDataset(logger: quiet)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("changed since the cache was prepared"), text)
            XCTAssertTrue(text.contains("re-run `ferd prepare --data \(data) --out \(cacheDirectory)"), text)
        }
    }

    func testEveryKindOfDamagedFrameNamesTheFileOrIsSkipped() throws {
        for damage in DamagedJPEG.allCases {
            try? FileManager.default.removeItem(atPath: data)
            _ = try SyntheticDataset(clips: 12, frames: 3...20, size: 24, seed: 4)
                .write(to: URL(fileURLWithPath: data), logger: quiet)
            let index = try DatasetIndex.load(root: data, logger: quiet)
            let victim = try XCTUnwrap(index.fold(1)?.test.first)
            try damage.apply(to: victim.frames[0])
            XCTAssertThrowsError(try prepare(), "\(damage)") { error in
                XCTAssertEqual((error as? DataError)?.file, victim.frames[0], "\(damage)")
                XCTAssertTrue("\(error)".contains("--skip-bad"), "\(damage): \(error)")
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: cacheDirectory + "/index.json"))
            let report = try prepare(skipBad: true)
            XCTAssertEqual(report.clips, 11, "\(damage): every other clip is prepared")
            XCTAssertEqual(report.skipped.map(\.id), [victim.id], "\(damage)")
            let cache = try PackedCache(directory: cacheDirectory, logger: quiet)
            XCTAssertNil(cache.clip(id: victim.id))
            XCTAssertEqual(cache.skipped.map(\.id), [victim.id])
            try FileManager.default.removeItem(atPath: cacheDirectory)
        }
    }

    func testMissingCacheSaysHowToBuildIt() {
        XCTAssertThrowsError(try PackedCache(directory: root + "/nowhere", logger: quiet)) { error in
            XCTAssertTrue("\(error)".contains("ferd prepare"))
        }
    }
}
