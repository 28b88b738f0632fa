import Foundation
import XCTest

/// docs/ARCHITECTURE.md stays true to Package.swift: every target is named there, and every module has a test target.
final class ArchitectureDocumentTests: XCTestCase {
    private let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL

    private func targets(_ kind: String, in manifest: String) throws -> [String] {
        let pattern = try NSRegularExpression(pattern: "\\.\(kind)\\(name: \"([A-Za-z]+)\"")
        let range = NSRange(manifest.startIndex..., in: manifest)
        return pattern.matches(in: manifest, range: range).map { String(manifest[Range($0.range(at: 1), in: manifest)!]) }
    }

    func testEveryTargetIsNamedInTheArchitectureDocument() throws {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let document = try String(contentsOf: root.appendingPathComponent("docs/ARCHITECTURE.md"), encoding: .utf8)
        let names = try targets("target", in: manifest) + targets("systemLibrary", in: manifest)
            + targets("executableTarget", in: manifest)
        XCTAssertGreaterThan(names.count, 15)
        for name in names where name != "ferd" {
            XCTAssertTrue(document.contains("`\(name)`") || document.contains(name + " "), "\(name) is not described in docs/ARCHITECTURE.md")
        }
    }

    func testEverySwiftModuleHasATestTarget() throws {
        let manifest = try String(contentsOf: root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let tests = Set(try targets("testTarget", in: manifest))
        for module in try targets("target", in: manifest) where module.hasPrefix("Ferd") && module != "FerdTestSupport" {
            XCTAssertTrue(tests.contains(module + "Tests"), "\(module) has no test target \(module)Tests")
        }
    }
}
