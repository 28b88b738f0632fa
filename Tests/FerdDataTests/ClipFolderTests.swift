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
}
