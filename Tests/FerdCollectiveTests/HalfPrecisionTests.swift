import FerdCollective
import XCTest

final class HalfPrecisionTests: XCTestCase {
    func testEveryHalfRoundTripsThroughFloat() {
        for pattern in 0...UInt16.max {
            let value = HalfPrecision.value(pattern)
            let back = HalfPrecision.bits(value)
            if pattern & 0x7C00 == 0x7C00, pattern & 0x3FF != 0 {
                XCTAssertTrue(value.isNaN, "pattern \(pattern)")
                XCTAssertEqual(back & 0x7E00, 0x7E00, "NaN stays a quiet NaN")
                XCTAssertEqual(back & 0x8000, pattern & 0x8000, "NaN keeps its sign")
            } else {
                XCTAssertEqual(back, pattern, "pattern \(pattern) → \(value)")
            }
            #if !(os(macOS) && arch(x86_64))
            if !value.isNaN { XCTAssertEqual(value, Float(Float16(bitPattern: pattern)), "pattern \(pattern)") }
            #endif
        }
    }

    func testKnownValues() {
        XCTAssertEqual(HalfPrecision.bits(1), 0x3C00)
        XCTAssertEqual(HalfPrecision.bits(-2), 0xC000)
        XCTAssertEqual(HalfPrecision.bits(65504), 0x7BFF)
        XCTAssertEqual(HalfPrecision.bits(65520), 0x7C00, "the midpoint above the largest half rounds to infinity")
        XCTAssertEqual(HalfPrecision.bits(65519), 0x7BFF)
        XCTAssertEqual(HalfPrecision.bits(1e10), 0x7C00)
        XCTAssertEqual(HalfPrecision.bits(-.infinity), 0xFC00)
        XCTAssertEqual(HalfPrecision.bits(Float(bitPattern: 0x3380_0000)), 0x0001, "2^-24, the smallest subnormal")
        XCTAssertEqual(HalfPrecision.bits(Float(bitPattern: 0x3300_0000)), 0x0000, "2^-25 ties to even zero")
        XCTAssertEqual(HalfPrecision.bits(Float(bitPattern: 0x33C0_0000)), 0x0002, "1.5·2^-24 ties to even 2")
        XCTAssertEqual(HalfPrecision.bits(-0.0), 0x8000)
        XCTAssertEqual(HalfPrecision.bits(6.1035156e-05), 0x0400, "2^-14, the smallest normal")
        XCTAssertEqual(HalfPrecision.value(0x3555), 0.33325195)
    }

    func testMidpointsRoundToEven() {
        for pattern in UInt16(0)..<0x7BFF {
            let low = Double(HalfPrecision.value(pattern))
            let high = Double(HalfPrecision.value(pattern + 1))
            let midpoint = Float((low + high) / 2)
            XCTAssertEqual(Double(midpoint), (low + high) / 2, "midpoints are floats")
            let even = pattern & 1 == 0 ? pattern : pattern + 1
            XCTAssertEqual(HalfPrecision.bits(midpoint), even, "midpoint above \(pattern)")
            XCTAssertEqual(HalfPrecision.bits(-midpoint), even | 0x8000)
            XCTAssertEqual(HalfPrecision.bits(midpoint.nextUp), pattern + 1)
            XCTAssertEqual(HalfPrecision.bits(midpoint.nextDown), pattern)
        }
    }

    #if !(os(macOS) && arch(x86_64))
    func testAgreesWithFloat16OnRandomFloats() {
        var state: UInt32 = 12345
        for _ in 0..<200_000 {
            state = state &* 1_664_525 &+ 1_013_904_223
            let value = Float(bitPattern: state)
            guard !value.isNaN else { continue }
            XCTAssertEqual(HalfPrecision.bits(value), Float16(value).bitPattern, "\(value)")
        }
    }
    #endif

    func testBufferConversions() {
        let values: [Float] = [0.1, -3.75, 1e-6, 70000, .infinity]
        var half = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { source in
            half.withUnsafeMutableBufferPointer { HalfPrecision.encode(source, into: $0.baseAddress!) }
        }
        XCTAssertEqual(half, values.map(HalfPrecision.bits))
        var decoded = [Float](repeating: 1, count: values.count)
        half.withUnsafeBytes { raw in
            decoded.withUnsafeMutableBufferPointer {
                HalfPrecision.decodeAdding(raw.baseAddress!, count: values.count, into: $0.baseAddress!)
            }
        }
        XCTAssertEqual(decoded, half.map { HalfPrecision.value($0) + 1 })
    }
}
