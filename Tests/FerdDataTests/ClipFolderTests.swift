@testable import FerdData
import FerdTestSupport
import Logging
import XCTest

/// `ClipFolder`, what `ferd predict` reads a clip folder with: a damaged frame is an error naming it.
final class ClipFolderTests: XCTestCase {
    private var root = ""

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-clip-folder-\(UUID())").path
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: root)
    }

    func testDamagedFirstFrameThrowsNamingIt() throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        for damage in DamagedJPEG.allCases {
            let data = root + "/\(damage)"
            _ = try SyntheticDataset(clips: 2, frames: 8...8, size: 16, seed: 2).write(to: URL(fileURLWithPath: data), logger: quiet)
            let clip = try XCTUnwrap(DatasetIndex.load(root: data, logger: quiet).distinctClips().first?.record)
            let sampler = ClipSampler(segments: 8)
            XCTAssertEqual(try ClipFolder.load(clip.directory, sampler: sampler, size: 16).count, 8 * 3 * 16 * 16)
            try damage.apply(to: clip.frames[0])
            XCTAssertThrowsError(try ClipFolder.load(clip.directory, sampler: sampler, size: 16), "\(damage)") { error in
                XCTAssertEqual((error as? DataError)?.file, clip.frames[0], "\(damage)")
                XCTAssertTrue("\(error)".contains("--skip-bad"), "\(damage): \(error)")
            }
        }
    }

    func testOneImageIsAOneFrameClipRepeatedAndSegmentsFollowTheSampler() throws {
        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        _ = try SyntheticDataset(clips: 2, frames: 8...8, size: 16, seed: 3).write(to: URL(fileURLWithPath: root), logger: quiet)
        let clip = try XCTUnwrap(DatasetIndex.load(root: root, logger: quiet).distinctClips().first?.record)
        let frameValues = 3 * 16 * 16
        let image = try ClipFolder.load(clip.frames[2], sampler: ClipSampler(segments: 4), size: 16)
        XCTAssertEqual(image.count, 4 * frameValues)
        let single = try ClipFolder.load(clip.frames[2], sampler: ClipSampler(segments: 1), size: 16)
        for frame in 0..<4 { XCTAssertEqual(Array(image[(frame * frameValues)..<((frame + 1) * frameValues)]), single) }
        let pairs = try ClipFolder.load(clip.directory, sampler: ClipSampler(segments: 2, framesPerSegment: 2), size: 16)
        let folder = try ClipFolder.load(clip.directory, sampler: ClipSampler(segments: 8), size: 16)
        XCTAssertEqual(pairs.count, 4 * frameValues)
        XCTAssertNotEqual(pairs, Array(folder.prefix(4 * frameValues)), "8×1 and 2×2 pick different frames")
    }
}
