import Foundation
import XCTest
@testable import FerdCluster

/// The libFuzzer seed corpus in Tests/Fuzz/seeds must stay decodable as the protocol evolves. After a
/// protocol change, `FERD_WRITE_FUZZ_SEEDS=1 swift test --filter FuzzSeedTests` writes it anew from the fixtures.
final class FuzzSeedTests: XCTestCase {
    func testWriteSeedsWhenAsked() throws {
        guard ProcessInfo.processInfo.environment["FERD_WRITE_FUZZ_SEEDS"] == "1" else {
            throw XCTSkip("set FERD_WRITE_FUZZ_SEEDS=1 to write Tests/Fuzz/seeds from the fixtures")
        }
        let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../Fuzz/seeds").standardizedFileURL
        for (index, message) in Fixtures.messages.enumerated() {
            let name = String(format: "%02d-%@.bin", index, message.type.name.lowercased())
            try Data(try message.encode()).write(to: seeds.appendingPathComponent(name))
        }
    }

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
