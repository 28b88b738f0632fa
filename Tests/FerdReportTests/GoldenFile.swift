import Foundation
import XCTest

/// Compares output with a file under Golden/ (loaded via #filePath, not as a resource); with
/// FERD_UPDATE_GOLDEN=1 set, writes the file instead.
enum GoldenFile {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden")

    static func assertMatches(_ output: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let url = directory.appendingPathComponent(name)
        if ProcessInfo.processInfo.environment["FERD_UPDATE_GOLDEN"] == "1" {
            try output.write(to: url, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOf: url, encoding: .utf8)
        guard output != expected else { return }
        let outputLines = output.components(separatedBy: "\n"), expectedLines = expected.components(separatedBy: "\n")
        let first = zip(outputLines, expectedLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            ?? min(outputLines.count, expectedLines.count)
        XCTFail("""
            \(name) differs from the golden file at line \(first + 1) (rerun with FERD_UPDATE_GOLDEN=1 to accept):
            expected: \(first < expectedLines.count ? expectedLines[first] : "<end>")
            actual:   \(first < outputLines.count ? outputLines[first] : "<end>")
            """, file: file, line: line)
    }
}
