@testable import FerdData
import XCTest

extension PILGolden {
    /// The deterministic test bytes that `make_resize_golden.py` also generates.
    static func pattern(width: Int, height: Int, seed: UInt64) -> RGBImage {
        let pixels = (0..<(width * height * 3)).map { i in
            UInt8(truncatingIfNeeded: (((UInt64(i) &+ seed &* 7919) &* 2_654_435_761) & 0xFFFF_FFFF) >> 24)
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        bytes.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x0000_0100_0000_01B3 }
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map {
            UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)!
        }
    }
}

/// The bilinear resize against PIL's own output (see Fixtures/make_resize_golden.py).
final class ResizeTests: XCTestCase {
    func testMatchesPILBytewise() {
        let input = PILGolden.pattern(width: 37, height: 29, seed: 99)
        XCTAssertEqual(input.resized(width: 11, height: 7).pixels, PILGolden.bytes(hex: PILGolden.smallResize))
    }

    func testMatchesPILOnAllGoldenSizes() {
        for (iw, ih, ow, oh, seed, hash) in PILGolden.resizeCases {
            let output = PILGolden.pattern(width: iw, height: ih, seed: seed).resized(width: ow, height: oh)
            XCTAssertEqual(output.width, ow)
            XCTAssertEqual(output.height, oh)
            XCTAssertEqual(PILGolden.fnv1a(output.pixels), hash, "\(iw)×\(ih) → \(ow)×\(oh)")
        }
    }

    func testJPEGDecodeAndResizeMatchPIL() throws {
        let decoded = try JPEGDecoder().decode(PILGolden.bytes(hex: PILGolden.jpeg), name: "golden.jpg")
        XCTAssertEqual(PILGolden.fnv1a(decoded.pixels), PILGolden.jpegDecodeHash)
        XCTAssertEqual(PILGolden.fnv1a(decoded.resized(width: 112, height: 112).pixels), PILGolden.jpegResizeHash)
    }

    func testSameSizeIsACopyAndConstantStaysConstant() {
        let input = PILGolden.pattern(width: 9, height: 5, seed: 1)
        XCTAssertEqual(input.resized(width: 9, height: 5), input)
        let grey = RGBImage(width: 50, height: 30, pixels: [UInt8](repeating: 77, count: 50 * 30 * 3))
        XCTAssertTrue(grey.resized(width: 13, height: 41).pixels.allSatisfy { $0 == 77 })
    }

    func testResizerIsReusable() {
        let resizer = BilinearResizer(inputWidth: 64, inputHeight: 48, outputWidth: 20, outputHeight: 20)
        let a = PILGolden.pattern(width: 64, height: 48, seed: 3)
        let b = PILGolden.pattern(width: 64, height: 48, seed: 4)
        XCTAssertEqual(resizer.resize(a), a.resized(width: 20, height: 20))
        XCTAssertEqual(resizer.resize(b), b.resized(width: 20, height: 20))
    }
}
