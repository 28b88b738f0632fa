import FerdRandom
import XCTest

/// Known answers taken from the two generators this one replaced (FerdData's `SplitMix64` and FerdTensor's
/// `SeededGenerator`): golden fixtures and checkpoints depend on every value staying the same.
final class SplitMix64Tests: XCTestCase {
    func testNextMatchesTheReferenceSequence() {
        var generator = SplitMix64(seed: 0)
        XCTAssertEqual((0..<3).map { _ in generator.next() },
                       [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    func testIndexedStreamsMatchTheReferenceValues() {
        var generator = SplitMix64(seed: 42, index: 7)
        XCTAssertEqual((0..<3).map { _ in generator.next() },
                       [0x5EBC_05E3_DC2C_DEE4, 0x56B9_E892_6376_3CE8, 0x4649_F22F_6373_EF7D])
        var wrapped = SplitMix64(seed: .max, index: 0)
        XCTAssertEqual(wrapped.next(), 0xCFA2_3088_5368_8354)
    }

    func testUniformDrawsAndBothNormalsMatchTheReferenceBits() {
        var data = SplitMix64(seed: 3)
        XCTAssertEqual((0..<3).map { _ in data.uniform().bitPattern },
                       [1_038_637_216, 1_060_324_975, 1_058_860_008])
        XCTAssertEqual((0..<2).map { _ in data.sumOfUniformsNormal(std: 0.5).bitPattern }, [3_209_707_581, 1_062_622_336])
        XCTAssertEqual(data.uniform(2...5).bitPattern, 1_082_414_929)
        XCTAssertTrue(data.chance(0.5))

        var tensor = SplitMix64(seed: 3)
        XCTAssertEqual((0..<3).map { _ in tensor.uniform().bitPattern }, [1_038_637_216, 1_060_324_975, 1_058_860_008])
        XCTAssertEqual((0..<2).map { _ in tensor.boxMullerNormal().bitPattern }, [1_056_261_721, 1_059_116_424])
    }

    func testUniformIsTheTop24BitsScaledExactly() {
        for top: UInt64 in [0, 1, 0x80_0000, 0xFF_FFFF] {
            XCTAssertEqual(Float(top) * (1 / Float(1 << 24)), Float(top) / Float(1 << 24))
        }
        var generator = SplitMix64(seed: 11)
        var reference = SplitMix64(seed: 11)
        for _ in 0..<1000 {
            let value = generator.uniform()
            XCTAssertEqual(value, Float(reference.next() >> 40) / Float(1 << 24))
            XCTAssertTrue((0..<1).contains(value))
        }
    }
}
