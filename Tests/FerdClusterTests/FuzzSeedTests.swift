import Foundation
import XCTest
@testable import FerdCluster

/// The libFuzzer seed corpus in Tests/Fuzz/seeds must stay decodable as the protocol evolves.
final class FuzzSeedTests: XCTestCase {
    func testEverySeedFrameDecodes() throws {
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fuzz/seeds").standardizedFileURL
        let files = try FileManager.default.contentsOfDirectory(at: seeds, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "bin" }
        XCTAssertEqual(files.count, Fixtures.messages.count)
        for file in files {
            XCTAssertNoThrow(try Message.decode(Array(try Data(contentsOf: file))), file.lastPathComponent)
        }
    }
}
