@testable import FerdData
import FerdTestSupport
import XCTest

/// JPEG round trips and the handling of damaged files.
final class JPEGTests: XCTestCase {
    private func gradient(width: Int, height: Int) -> RGBImage {
        var pixels = [UInt8]()
        for y in 0..<height {
            for x in 0..<width {
                pixels += [UInt8(x * 255 / (width - 1)), UInt8(y * 255 / (height - 1)), 128]
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    func testRoundTripIsClose() throws {
        let image = gradient(width: 40, height: 24)
        let bytes = try JPEGEncoder().encode(image, quality: 95)
        XCTAssertEqual(Array(bytes.prefix(2)), [0xFF, 0xD8])
        let decoded = try JPEGDecoder().decode(bytes, name: "gradient.jpg")
        XCTAssertEqual(decoded.width, 40)
        XCTAssertEqual(decoded.height, 24)
        let maxError = zip(image.pixels, decoded.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
        XCTAssertLessThan(maxError, 12)
    }

    func testQualityChangesSize() throws {
        let image = gradient(width: 64, height: 64)
        let encoder = JPEGEncoder()
        XCTAssertLessThan(try encoder.encode(image, quality: 20).count, try encoder.encode(image, quality: 98).count)
    }

    func testTruncatedJPEGThrowsNamingTheFile() throws {
        let bytes = try JPEGEncoder().encode(gradient(width: 64, height: 64), quality: 90)
        let decoder = JPEGDecoder()
        for cut in [bytes.count / 2, bytes.count - 10, 200] {
            XCTAssertThrowsError(try decoder.decode(Array(bytes.prefix(cut)), name: "clip/00001_00003.jpg")) { error in
                XCTAssertTrue("\(error)".contains("clip/00001_00003.jpg"), "\(error)")
            }
        }
    }

    func testEveryKindOfDamagedFileThrowsNamingTheFileAndTheFix() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-jpeg-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = try JPEGEncoder().encode(gradient(width: 96, height: 96), quality: 90)
        let decoder = JPEGDecoder()
        for damage in DamagedJPEG.allCases {
            let path = directory.appendingPathComponent("00001_\(damage).jpg").path
            try Data(good).write(to: URL(fileURLWithPath: path))
            XCTAssertNoThrow(try decoder.decodeFile(atPath: path))
            try damage.apply(to: path)
            XCTAssertThrowsError(try decoder.decodeFile(atPath: path), "\(damage)") { error in
                let error = error as? DataError
                XCTAssertEqual(error?.file, path, "\(damage)")
                XCTAssertTrue(error?.fix.contains("--skip-bad") == true, "\(damage): \(String(describing: error))")
            }
            XCTAssertNoThrow(try decoder.decode(good, name: "good.jpg"), "the decoder is reusable after \(damage)")
        }
    }

    func testGarbageThrows() {
        let decoder = JPEGDecoder()
        XCTAssertThrowsError(try decoder.decode([], name: "empty.jpg"))
        XCTAssertThrowsError(try decoder.decode([0xFF, 0xD8, 0xFF, 0x00, 1, 2, 3], name: "bad.jpg"))
        XCTAssertThrowsError(try decoder.decode(Array("not a jpeg".utf8), name: "text.jpg"))
    }

    func testMissingFileThrows() {
        XCTAssertThrowsError(try JPEGDecoder().decodeFile(atPath: "/nonexistent/1.jpg")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/1.jpg"))
        }
    }
}
