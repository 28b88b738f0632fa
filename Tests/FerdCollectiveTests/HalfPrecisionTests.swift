import CHalfPrecision
@testable import FerdCollective
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

/// The buffer conversions (branch-free, vectorised) against a straightforward scalar reference with branches,
/// and against `Float16` where the platform has it.
final class HalfPrecisionLoopTests: XCTestCase {
    /// Round to nearest even, written the obvious way: the reference the vectorised loops must match.
    static func referenceBits(_ value: Float) -> UInt16 {
        let pattern = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (pattern >> 16) & 0x8000)
        let magnitude = pattern & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | 0x7E00 }
        if magnitude >= 0x4780_0000 { return sign | 0x7C00 }
        let exponent = Int(magnitude >> 23) - 127
        // The value as an integer number of 2^-24 units (subnormal spacing) or of the normal spacing.
        let shift = exponent < -14 ? 13 + (-14 - exponent) : 13
        let mantissa = UInt64(magnitude & 0x7F_FFFF) | (magnitude >= 0x0080_0000 ? 0x80_0000 : 0)
        guard shift < 40 else { return sign }
        var kept = mantissa >> UInt64(shift)
        let rest = mantissa & ((1 << UInt64(shift)) - 1)
        let half = UInt64(1) << UInt64(shift - 1)
        if rest > half || (rest == half && kept & 1 == 1) { kept += 1 }
        let biased = exponent < -14 ? 0 : UInt64(exponent + 15)
        // A carry out of the mantissa moves into the exponent by itself.
        let bits = biased == 0 ? kept : (biased << 10) + (kept - 0x400)
        return sign | UInt16(bits)
    }

    /// Every half's float, both neighbours' midpoints and their next floats, boundary cases and a dense
    /// pseudo-random sample of bit patterns.
    static let samples: [Float] = {
        var values: [Float] = []
        for pattern in 0...UInt16.max {
            let value = HalfPrecision.value(pattern)
            values += [value, value.nextUp, value.nextDown]
        }
        let boundaries: [UInt32] = [0, 1, 0x0080_0000, 0x3300_0000, 0x3300_0001, 0x337F_FFFF, 0x3380_0000, 0x387F_FFFF,
                                    0x3880_0000, 0x3880_0001, 0x477F_EFFF, 0x477F_F000, 0x477F_F001, 0x477F_FFFF,
                                    0x4780_0000, 0x7F7F_FFFF, 0x7F80_0000, 0x7F80_0001, 0x7FC0_0000, 0x7FFF_FFFF]
        for pattern in boundaries {
            values += [Float(bitPattern: pattern), Float(bitPattern: pattern | 0x8000_0000)]
        }
        var state: UInt64 = 0x1234_5678_9ABC_DEF0
        for _ in 0..<1_000_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            values.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 32)))
        }
        return values
    }()

    func testReferenceAgreesWithFloat16() {
        #if !(os(macOS) && arch(x86_64))
        for value in Self.samples where !value.isNaN && Self.referenceBits(value) != Float16(value).bitPattern {
            return XCTFail("\(value) (\(value.bitPattern)): \(Self.referenceBits(value)), Float16 says \(Float16(value).bitPattern)")
        }
        #endif
    }

    func testEncodeMatchesReference() {
        let values = Self.samples
        var half = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { source in
            half.withUnsafeMutableBufferPointer { HalfPrecision.encode(source, into: $0.baseAddress!) }
        }
        for (value, bits) in zip(values, half) {
            let expected = Self.referenceBits(value)
            if value.isNaN {
                XCTAssertEqual(bits, expected, "NaN \(value.bitPattern) → the quiet NaN of its sign")
            } else if bits != expected {
                return XCTFail("\(value) (\(value.bitPattern)): \(bits), expected \(expected)")
            }
        }
    }

    func testDecodeMatchesEveryHalf() {
        let patterns = Array(0...UInt16.max)
        var floats = [Float](repeating: 0, count: patterns.count)
        var sums = [Float](repeating: 0.5, count: patterns.count)
        patterns.withUnsafeBytes { raw in
            floats.withUnsafeMutableBufferPointer {
                HalfPrecision.decode(raw.baseAddress!, count: patterns.count, into: $0.baseAddress!)
            }
            sums.withUnsafeMutableBufferPointer {
                HalfPrecision.decodeAdding(raw.baseAddress!, count: patterns.count, into: $0.baseAddress!)
            }
        }
        for pattern in patterns {
            let value = floats[Int(pattern)]
            if pattern & 0x7C00 == 0x7C00, pattern & 0x3FF != 0 {
                XCTAssertTrue(value.isNaN)
                // F16C's vcvtph2ps quiets signalling NaNs (sets the float's quiet bit 0x0040_0000) and keeps the
                // payload; the portable code keeps the bits as they are. Encoded halves are never signalling NaNs.
                let quiet: UInt32 = HalfPrecision.usesF16C ? 0x0040_0000 : 0
                XCTAssertEqual(value.bitPattern,
                               UInt32(pattern & 0x8000) << 16 | 0x7F80_0000 | UInt32(pattern & 0x3FF) << 13 | quiet,
                               "NaN payload kept")
                continue
            }
            XCTAssertEqual(Double(value), Self.referenceValue(pattern), "pattern \(pattern)")
            XCTAssertEqual(value.sign == .minus, pattern & 0x8000 != 0, "pattern \(pattern)")
            XCTAssertEqual(sums[Int(pattern)], 0.5 + value, "pattern \(pattern)")
        }
    }

    func testUnalignedEncode() {
        let source: [Float] = [1, -2.5, 65504, 1e-7, .infinity, 0.1]
        var bytes = [UInt8](repeating: 0xAA, count: 2 * source.count + 2)
        source.withUnsafeBufferPointer { input in
            bytes.withUnsafeMutableBytes { HalfPrecision.encode(input.baseAddress!, count: input.count, into: $0.baseAddress! + 1) }
        }
        XCTAssertEqual(bytes.first, 0xAA)
        XCTAssertEqual(bytes.last, 0xAA)
        for (index, value) in source.enumerated() {
            XCTAssertEqual(UInt16(bytes[1 + 2 * index]) | UInt16(bytes[2 + 2 * index]) << 8, Self.referenceBits(value))
        }
    }

    /// The ring's fused loops give the bits of adding, dividing, rounding and encoding one after the other.
    func testFusedRingLoopsMatchTheSteps() {
        let count = 100_003
        let partial = gradient(rank: 0, tensor: 1, count: count).map { $0 * 3 }
        let incoming = gradient(rank: 1, tensor: 1, count: count).map { HalfPrecision.bits($0 * 1000) }
        for divisor: Float? in [nil, 1, 3] {
            var expected = partial
            incoming.withUnsafeBytes { raw in
                expected.withUnsafeMutableBufferPointer {
                    HalfPrecision.decodeAdding(raw.baseAddress!, count: count, into: $0.baseAddress!)
                }
            }
            if let divisor { expected = expected.map { HalfPrecision.value(HalfPrecision.bits($0 / divisor)) } }
            var sums = partial
            var encoded = [UInt8](repeating: 0, count: 2 * count + 1)
            incoming.withUnsafeBytes { raw in
                sums.withUnsafeMutableBufferPointer { destination in
                    encoded.withUnsafeMutableBytes { out in
                        if let divisor {
                            HalfPrecision.decodeAddingFinal(raw.baseAddress!, count: count, into: destination.baseAddress!,
                                                            dividingBy: divisor, encodingInto: out.baseAddress! + 1)
                        } else {
                            HalfPrecision.decodeAdding(raw.baseAddress!, count: count, into: destination.baseAddress!,
                                                       encodingInto: out.baseAddress! + 1)
                        }
                    }
                }
            }
            XCTAssertEqual(sums.map(\.bitPattern), expected.map(\.bitPattern), "divisor \(String(describing: divisor))")
            let patterns = (0..<count).map { UInt16(encoded[1 + 2 * $0]) | UInt16(encoded[2 + 2 * $0]) << 8 }
            XCTAssertEqual(patterns, expected.map(HalfPrecision.bits))
        }
        var sums = partial
        let wire = incoming.map { HalfPrecision.value($0) }
        wire.withUnsafeBytes { raw in
            sums.withUnsafeMutableBufferPointer { Kernels.addDividing(raw.baseAddress!, count: count, into: $0.baseAddress!, by: 3) }
        }
        XCTAssertEqual(sums.map(\.bitPattern), zip(partial, wire).map { (($0 + $1) / 3).bitPattern })
    }

    /// A half's value computed in Double from its fields.
    static func referenceValue(_ pattern: UInt16) -> Double {
        let exponent = Int(pattern >> 10) & 0x1F
        let mantissa = Double(pattern & 0x3FF)
        let sign: Double = pattern & 0x8000 != 0 ? -1 : 1
        if exponent == 0x1F { return sign * .infinity }
        if exponent == 0 { return sign * mantissa * 0x1p-24 }
        return sign * (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}

/// The F16C loops (CHalfPrecision) against the portable Swift loops, each called explicitly: the same bits for
/// every input, NaNs included, except the quiet bit of a decoded signalling-NaN half.
final class HalfPrecisionF16CTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(HalfPrecision.usesF16C, "no F16C on this CPU")
    }

    func testEncodeAgreesOnDenseSampleAndEveryHalf() {
        // Odd count so the scalar tail runs; offset output so the stores are unaligned.
        let values = HalfPrecisionLoopTests.samples + [1.5, -0.1, 3e-8]
        var portable = [UInt8](repeating: 0, count: 2 * values.count + 1)
        var hardware = [UInt8](repeating: 0, count: 2 * values.count + 1)
        values.withUnsafeBufferPointer { input in
            portable.withUnsafeMutableBytes {
                HalfPrecision.portableEncode(input.baseAddress!, count: input.count, into: $0.baseAddress! + 1)
            }
            hardware.withUnsafeMutableBytes { ferd_half_encode(input.baseAddress!, input.count, $0.baseAddress! + 1) }
        }
        XCTAssertTrue(values.count % 8 != 0)
        if portable != hardware {
            for index in values.indices where portable[1 + 2 * index] != hardware[1 + 2 * index]
                || portable[2 + 2 * index] != hardware[2 + 2 * index] {
                return XCTFail("\(values[index]) (\(values[index].bitPattern)) differs")
            }
        }
    }

    func testDecodeAgreesOnEveryHalf() {
        for count in [65536, 65531] {
            let patterns = Array(0...UInt16.max).prefix(count)
            var portable = [Float](repeating: 0, count: count)
            var hardware = [Float](repeating: 0, count: count)
            var portableSums = [Float](repeating: 0.25, count: count)
            var hardwareSums = [Float](repeating: 0.25, count: count)
            Array(patterns).withUnsafeBytes { raw in
                portable.withUnsafeMutableBufferPointer { HalfPrecision.portableDecode(raw.baseAddress!, count: count, into: $0.baseAddress!) }
                hardware.withUnsafeMutableBufferPointer { ferd_half_decode(raw.baseAddress!, count, $0.baseAddress!) }
                portableSums.withUnsafeMutableBufferPointer {
                    HalfPrecision.portableDecodeAdding(raw.baseAddress!, count: count, into: $0.baseAddress!)
                }
                hardwareSums.withUnsafeMutableBufferPointer { ferd_half_decode_add(raw.baseAddress!, count, $0.baseAddress!) }
            }
            for pattern in patterns {
                let index = Int(pattern)
                let isNaN = pattern & 0x7C00 == 0x7C00 && pattern & 0x3FF != 0
                // vcvtph2ps sets the quiet bit of signalling NaNs; nothing else differs.
                let quiet: UInt32 = isNaN ? 0x0040_0000 : 0
                XCTAssertEqual(hardware[index].bitPattern, portable[index].bitPattern | quiet, "pattern \(pattern)")
                if isNaN {
                    XCTAssertTrue(hardwareSums[index].isNaN)
                } else {
                    XCTAssertEqual(hardwareSums[index].bitPattern, portableSums[index].bitPattern, "pattern \(pattern)")
                }
            }
        }
    }

    func testFusedLoopsAgreeOnRandomValues() {
        let count = 200_003
        var state: UInt64 = 0x0F16_C0F1_6C0F_16C0
        func next() -> UInt32 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt32(truncatingIfNeeded: state >> 32)
        }
        // Partial sums: random bit patterns (every range, NaNs and infinities too) and gradient-sized values.
        let partial: [Float] = (0..<count).map { index in
            let bits = next()
            return index % 2 == 0 ? Float(bitPattern: bits) : Float(Int32(bitPattern: bits)) * 0x1p-40
        }
        let incoming: [UInt16] = (0..<count).map { _ in UInt16(truncatingIfNeeded: next()) }
        for divisor: Float? in [nil, 2, 3, 7] {
            var portable = partial, hardware = partial
            var portableWire = [UInt8](repeating: 0, count: 2 * count + 1)
            var hardwareWire = [UInt8](repeating: 0, count: 2 * count + 1)
            incoming.withUnsafeBytes { raw in
                let source = raw.baseAddress! + 2  // unaligned input, one element fewer
                portable.withUnsafeMutableBufferPointer { destination in
                    portableWire.withUnsafeMutableBytes { out in
                        if let divisor {
                            HalfPrecision.portableDecodeAddingFinal(source, count: count - 1, into: destination.baseAddress!,
                                                                    dividingBy: divisor, encodingInto: out.baseAddress! + 1)
                        } else {
                            HalfPrecision.portableDecodeAdding(source, count: count - 1, into: destination.baseAddress!,
                                                               encodingInto: out.baseAddress! + 1)
                        }
                    }
                }
                hardware.withUnsafeMutableBufferPointer { destination in
                    hardwareWire.withUnsafeMutableBytes { out in
                        if let divisor {
                            ferd_half_decode_add_final(source, count - 1, destination.baseAddress!, divisor, out.baseAddress! + 1)
                        } else {
                            ferd_half_decode_add_encode(source, count - 1, destination.baseAddress!, out.baseAddress! + 1)
                        }
                    }
                }
            }
            XCTAssertEqual(portableWire, hardwareWire, "wire bytes, divisor \(String(describing: divisor))")
            var mismatches = 0
            for index in 0..<count where portable[index].bitPattern != hardware[index].bitPattern {
                // A NaN sum's payload depends on which operand was NaN; only its NaN-ness matters.
                if portable[index].isNaN && hardware[index].isNaN { continue }
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, "floats, divisor \(String(describing: divisor))")
        }
    }
}
