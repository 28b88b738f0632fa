import CHalfPrecision

/// IEEE 754 binary16 conversion with round-to-nearest-even, in contiguous loops. Written out rather than
/// using `Float16`, which is unavailable on x86_64 macOS and converts through a library call per value on
/// x86_64 Linux. Both conversions are branch-free (every case is computed and the right one selected), so
/// the compiler vectorises the loops with the baseline SIMD instructions.
///
/// The buffer loops dispatch to CHalfPrecision's F16C versions (hardware conversions, eight values per
/// instruction) when the CPU has F16C and AVX; the portable loops below stay the reference and the fallback.
/// Both give the same bits for every input, NaNs included (the C code canonicalises NaNs to the quiet NaN of
/// their sign, as `bits` does), except that decoding a signalling-NaN half on the F16C path sets the float's
/// quiet bit — halves encoded here are never signalling NaNs, so that never happens on the wire.
public enum HalfPrecision {
    /// Whether the buffer loops use the F16C conversions.
    static let usesF16C = ferd_half_f16c_supported() != 0

    /// The binary16 bit pattern nearest to `value` (ties to even); infinities stay infinite, overflow
    /// becomes infinity, NaN becomes a quiet NaN with the same sign.
    @inline(__always)
    public static func bits(_ value: Float) -> UInt16 {
        let pattern = value.bitPattern
        let magnitude = pattern & 0x7FFF_FFFF
        // Normal halves: rebias the exponent (−112 << 23), add the rounding bias 0xFFF plus the lowest kept
        // mantissa bit (ties to even), keep the top bits; a carry rounds up into the exponent.
        let normal = (magnitude &+ 0xC800_0FFF &+ ((magnitude >> 13) & 1)) >> 13
        // Below 2^-14 the half is subnormal or zero: adding 0.5 aligns the half's subnormal bits with the
        // float's low mantissa bits, and the float addition rounds to nearest even.
        let subnormal = (Float(bitPattern: magnitude) + 0.5).bitPattern &- 0x3F00_0000
        // |value| ≥ 65520 (the midpoint above the largest half), infinity or NaN.
        let special: UInt32 = magnitude > 0x7F80_0000 ? 0x7E00 : 0x7C00
        var result = magnitude < 0x3880_0000 ? subnormal : normal
        result = magnitude >= 0x4780_0000 ? special : result
        return UInt16(truncatingIfNeeded: result | ((pattern >> 16) & 0x8000))
    }

    /// The float value of a binary16 bit pattern (exact).
    @inline(__always)
    public static func value(_ bits: UInt16) -> Float {
        let half = UInt32(bits)
        let shifted = (half & 0x7FFF) << 13
        let exponent = shifted & 0x0F80_0000
        let normal = shifted &+ 0x3800_0000  // rebias the exponent (+112 << 23)
        let special = normal &+ 0x3800_0000  // exponent all ones: infinity or NaN, mantissa kept
        // Exponent zero: 2^-14 · (1 + m/1024) − 2^-14 = m · 2^-24, exact.
        let subnormal = (Float(bitPattern: normal &+ 0x0080_0000) - Float(bitPattern: 0x3880_0000)).bitPattern
        var magnitude = exponent == 0x0F80_0000 ? special : normal
        magnitude = exponent == 0 ? subnormal : magnitude
        return Float(bitPattern: magnitude | ((half & 0x8000) << 16))
    }

    /// Writes the binary16 patterns of `source` into `destination` (at least as long).
    public static func encode(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutablePointer<UInt16>) {
        guard let input = source.baseAddress else { return }
        encode(input, count: source.count, into: UnsafeMutableRawPointer(destination))
    }

    /// Writes the binary16 patterns of `count` floats at `source` into `destination`, which need not be aligned.
    static func encode(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        guard count > 0 else { return }
        if usesF16C {
            ferd_half_encode(source, count, destination)
        } else {
            portableEncode(source, count: count, into: destination)
        }
    }

    /// The portable loop of `encode`: the reference and the fallback without F16C.
    static func portableEncode(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        for index in 0..<count {
            destination.storeBytes(of: bits(source[index]), toByteOffset: 2 * index, as: UInt16.self)
        }
    }

    /// Writes the floats of `count` binary16 patterns at `source` into `destination`.
    public static func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        if usesF16C {
            ferd_half_decode(source, count, destination)
        } else {
            portableDecode(source, count: count, into: destination)
        }
    }

    /// The portable loop of `decode`: the reference and the fallback without F16C.
    static func portableDecode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        }
    }

    /// Adds the floats of `count` binary16 patterns at `source` to `destination`.
    public static func decodeAdding(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
        if usesF16C {
            ferd_half_decode_add(source, count, destination)
        } else {
            portableDecodeAdding(source, count: count, into: destination)
        }
    }

    /// The portable loop of `decodeAdding`: the reference and the fallback without F16C.
    static func portableDecodeAdding(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] += value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        }
    }

    /// Adds the floats of `count` binary16 patterns at `source` to `destination` and writes the binary16
    /// patterns of the sums to `encoded` (unaligned), in one pass.
    static func decodeAdding(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
                             encodingInto encoded: UnsafeMutableRawPointer) {
        guard count > 0 else { return }
        if usesF16C {
            ferd_half_decode_add_encode(source, count, destination, encoded)
        } else {
            portableDecodeAdding(source, count: count, into: destination, encodingInto: encoded)
        }
    }

    /// The portable loop of `decodeAdding`: the reference and the fallback without F16C.
    static func portableDecodeAdding(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
                                     encodingInto encoded: UnsafeMutableRawPointer) {
        for index in 0..<count {
            let sum = destination[index] + value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
            destination[index] = sum
            encoded.storeBytes(of: bits(sum), toByteOffset: 2 * index, as: UInt16.self)
        }
    }

    /// Adds the floats of `count` binary16 patterns at `source` to `destination`, divides the sums by `divisor`,
    /// rounds them to binary16 and writes both the rounded floats (to `destination`) and their patterns (to
    /// `encoded`, unaligned), in one pass.
    static func decodeAddingFinal(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
                                  dividingBy divisor: Float, encodingInto encoded: UnsafeMutableRawPointer) {
        guard count > 0 else { return }
        if usesF16C {
            ferd_half_decode_add_final(source, count, destination, divisor, encoded)
        } else {
            portableDecodeAddingFinal(source, count: count, into: destination, dividingBy: divisor,
                                      encodingInto: encoded)
        }
    }

    /// The portable loop of `decodeAddingFinal`: the reference and the fallback without F16C.
    static func portableDecodeAddingFinal(_ source: UnsafeRawPointer, count: Int,
                                          into destination: UnsafeMutablePointer<Float>,
                                          dividingBy divisor: Float, encodingInto encoded: UnsafeMutableRawPointer) {
        for index in 0..<count {
            let sum = destination[index] + value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
            let pattern = bits(sum / divisor)
            destination[index] = value(pattern)
            encoded.storeBytes(of: pattern, toByteOffset: 2 * index, as: UInt16.self)
        }
    }
}
