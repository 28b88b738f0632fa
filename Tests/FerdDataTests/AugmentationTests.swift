@testable import FerdData
import FerdDigest
import XCTest

/// The reference augmentation: parameter ranges, determinism and the effect of each step.
final class AugmentationTests: XCTestCase {
    /// A `size × size` image whose pixel (x, y) is (x, y, x + y) scaled to spread over 0…255.
    private func gradient(_ size: Int) -> RGBImage {
        var pixels = [UInt8]()
        for y in 0..<size {
            for x in 0..<size {
                pixels += [UInt8(x * 255 / (size - 1)), UInt8(y * 255 / (size - 1)), UInt8((x + y) * 127 / (size - 1))]
            }
        }
        return RGBImage(width: size, height: size, pixels: pixels)
    }

    private func plain(_ size: Int, flip: Bool = false, brightness: Float = 1, angle: Double = 0) -> AugmentationParameters {
        AugmentationParameters(crop: .sized(x: 0, y: 0, width: size, height: size), flip: flip,
                               brightness: brightness, angle: angle)
    }

    /// Channel `c` of pixel (x, y) in planar (3, S, S) floats.
    private func value(_ planes: [Float], _ size: Int, _ c: Int, _ x: Int, _ y: Int) -> Float {
        planes[c * size * size + y * size + x]
    }

    func testParameterRanges() {
        let augmentation = ClipAugmentation(size: 112)
        var flips = 0, fallbacks = 0
        let draws = 2000
        for clip in 0..<draws {
            let p = augmentation.parameters(width: 112, height: 112, seed: 3, epoch: 0, clip: clip)
            XCTAssertTrue((0.4...1.6).contains(p.brightness))
            XCTAssertTrue((-4...4).contains(p.angle))
            if p.flip { flips += 1 }
            switch p.crop {
            case let .sized(x, y, w, h):
                XCTAssertTrue(x >= 0 && y >= 0 && x + w <= 112 && y + h <= 112)
                let area = Double(w * h) / Double(112 * 112)
                XCTAssertTrue(area > 0.83 && area <= 1, "area fraction \(area)")
                let aspect = Double(w) / Double(h)
                XCTAssertTrue(aspect > 0.58 && aspect < 1.72, "aspect \(aspect)")
            case let .scaled(w, h, x, y):
                fallbacks += 1
                XCTAssertEqual([w, h, x, y], [112, 112, 0, 0], "a square frame at S needs no fallback resize")
            }
        }
        XCTAssertEqual(Double(flips) / Double(draws), 0.5, accuracy: 0.05)
        // Each try fits with probability ≈ 0.15 on a square frame, so ≈ 0.85^10 ≈ 20 % fall back.
        XCTAssertEqual(Double(fallbacks) / Double(draws), 0.2, accuracy: 0.08)
    }

    func testFallbackOnWideFrame() {
        XCTAssertTrue(ClipAugmentation.shorterSide(width: 200, height: 100, to: 50) == (100, 50))
        XCTAssertTrue(ClipAugmentation.shorterSide(width: 30, height: 70, to: 16) == (16, 37))
        let augmentation = ClipAugmentation(size: 16, cropAttempts: 0)
        var rng = SplitMix64(seed: 1)
        guard case let .scaled(w, h, x, y) = augmentation.parameters(width: 64, height: 32, using: &rng).crop else {
            return XCTFail("no tries must fall back")
        }
        XCTAssertEqual([w, h], [32, 16])
        XCTAssertTrue((0...16).contains(x) && y == 0)
    }

    func testDeterministicPerClip() {
        let augmentation = ClipAugmentation(size: 64)
        let a = augmentation.parameters(width: 64, height: 64, seed: 5, epoch: 2, clip: 9)
        XCTAssertEqual(a, augmentation.parameters(width: 64, height: 64, seed: 5, epoch: 2, clip: 9))
        XCTAssertNotEqual(a, augmentation.parameters(width: 64, height: 64, seed: 5, epoch: 3, clip: 9))
    }

    func testIdentityAndTestTransform() {
        let image = gradient(8)
        let out = FrameTransform(plain(8), width: 8, height: 8, size: 8).apply(image)
        XCTAssertEqual(out, FrameTransform(testingWidth: 8, height: 8, size: 8).apply(image))
        XCTAssertEqual(value(out, 8, 0, 7, 0), 1)
        XCTAssertEqual(value(out, 8, 1, 0, 7), 1)
        XCTAssertEqual(value(out, 8, 2, 3, 2), Float(image.pixels[(2 * 8 + 3) * 3 + 2]) / 255)
        let resized = FrameTransform(testingWidth: 8, height: 8, size: 4).apply(image)
        XCTAssertEqual(resized, image.resized(width: 4, height: 4).pixels.enumerated()
            .sorted { ($0.offset % 3, $0.offset) < ($1.offset % 3, $1.offset) }.map { Float($0.element) / 255 })
    }

    func testFlipMirrorsColumns() {
        let image = gradient(8)
        let out = FrameTransform(plain(8, flip: true), width: 8, height: 8, size: 8).apply(image)
        for y in 0..<8 {
            for x in 0..<8 {
                XCTAssertEqual(value(out, 8, 0, x, y), Float(image.pixels[(y * 8 + 7 - x) * 3]) / 255)
            }
        }
    }

    func testBrightnessScalesAndClamps() {
        let image = gradient(8)
        let out = FrameTransform(plain(8, brightness: 1.5), width: 8, height: 8, size: 8).apply(image)
        for (i, byte) in image.pixels.enumerated() {
            let p = i / 3, c = i % 3
            XCTAssertEqual(out[c * 64 + p], min(Float(byte) / 255 * 1.5, 1))
        }
    }

    func testCropThenResize() {
        let image = gradient(16)
        let out = FrameTransform(AugmentationParameters(crop: .sized(x: 2, y: 3, width: 10, height: 12), flip: false,
                                                        brightness: 1, angle: 0),
                                 width: 16, height: 16, size: 8).apply(image)
        var box = [UInt8]()
        for y in 3..<15 { box += image.pixels[((y * 16 + 2) * 3)..<((y * 16 + 12) * 3)] }
        let expected = RGBImage(width: 10, height: 12, pixels: box).resized(width: 8, height: 8)
        XCTAssertEqual(value(out, 8, 1, 5, 6), Float(expected.pixels[(6 * 8 + 5) * 3 + 1]) / 255)
        XCTAssertEqual(value(out, 8, 0, 0, 0), Float(expected.pixels[0]) / 255)
    }

    func testRotationQuarterTurns() {
        let size = 6
        let half = FrameTransform.rotationSources(width: size, height: size, degrees: 180)
        let quarter = FrameTransform.rotationSources(width: size, height: size, degrees: 90)
        for y in 0..<size {
            for x in 0..<size {
                XCTAssertEqual(half[y * size + x], Int32((size - 1 - y) * size + (size - 1 - x)))
                // Counter-clockwise, as PIL: the top row shows the right column.
                XCTAssertEqual(quarter[y * size + x], Int32(x * size + (size - 1 - y)))
            }
        }
        XCTAssertEqual(FrameTransform.rotationSources(width: 4, height: 4, degrees: 0), (0..<16).map { Int32($0) })
    }

    /// Golden values from Fixtures/make_rotation_golden.py (Pillow 13.0.0).
    func testRotationMatchesPIL() {
        let cases: [(Int, Int, Double, UInt64, Int)] = [
            (32, 32, 4.0, 0xFFE9_E238_ABCF_C84E, 32),
            (17, 13, -3.3, 0xD0BC_6542_691A_F6A9, 0),
            (112, 112, 2.71828, 0xEDDA_7760_A5E7_333B, 276),
        ]
        for (w, h, angle, expected, filled) in cases {
            let sources = FrameTransform.rotationSources(width: w, height: h, degrees: angle)
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for source in sources {
                for shift in stride(from: 0, to: 32, by: 8) {
                    hash = (hash ^ UInt64(UInt32(bitPattern: source) >> UInt32(shift) & 0xFF)) &* 0x100_0000_01B3
                }
            }
            XCTAssertEqual(hash, expected, "\(w)×\(h) at \(angle)°")
            XCTAssertEqual(sources.filter { $0 < 0 }.count, filled)
        }
    }

    func testSmallRotationFillsCornersWithZero() {
        let size = 32
        let white = RGBImage(width: size, height: size, pixels: [UInt8](repeating: 255, count: size * size * 3))
        let out = FrameTransform(plain(size, angle: 4), width: size, height: size, size: size).apply(white)
        XCTAssertEqual(value(out, size, 0, 0, 0), 0)
        XCTAssertEqual(value(out, size, 2, size - 1, size - 1), 0)
        XCTAssertEqual(value(out, size, 1, size / 2, size / 2), 1)
        let zeros = out.prefix(size * size).filter { $0 == 0 }.count
        XCTAssertTrue((4...80).contains(zeros), "about 2·tan(4°)·S² / 2 corner pixels, got \(zeros)")
        // The map is PIL's: a pixel near the centre moves by at most one step for 4°.
        let map = FrameTransform.rotationSources(width: size, height: size, degrees: 4)
        let centre = Int(map[16 * size + 16])
        XCTAssertTrue(abs(centre % size - 16) <= 1 && abs(centre / size - 16) <= 1)
        // Positive angles turn counter-clockwise: the top edge's middle comes from right of the middle.
        XCTAssertGreaterThanOrEqual(Int(map[1 * size + 16]) % size, 16)
        XCTAssertLessThan(Int(map[(size - 2) * size + 16]) % size, 16)
    }

    func testSHA256KnownVectors() {
        func digest(_ text: String) -> String {
            var hash = SHA256()
            hash.update(text.utf8)
            return hash.hexDigest()
        }
        XCTAssertEqual(digest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(digest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(digest(String(repeating: "a", count: 1000)),
                       "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
