/// IEEE 754 binary16 conversion with round-to-nearest-even, in contiguous loops. Written out rather than
/// using `Float16`, which is unavailable on x86_64 macOS.
public enum HalfPrecision {
    /// The binary16 bit pattern nearest to `value` (ties to even); infinities stay infinite, overflow
    /// becomes infinity, NaN becomes a quiet NaN with the same sign.
    @inline(__always)
    public static func bits(_ value: Float) -> UInt16 {
        var f = value.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        let result: UInt32
        if f >= 0x4780_0000 {  // |value| ≥ 2^16 (or inf/NaN): past the largest finite half after rounding
            result = f > 0x7F80_0000 ? 0x7E00 : 0x7C00
        } else if f < 0x3880_0000 {  // below 2^-14: the half is subnormal or zero
            // Adding 0.5 aligns the half's subnormal bits with the float's low mantissa bits; the float
            // addition rounds to nearest even.
            let shifted = Float(bitPattern: f) + Float(bitPattern: 0x3F00_0000)
            result = shifted.bitPattern - 0x3F00_0000
        } else {
            let mantissaOdd = (f >> 13) & 1
            f = f &+ 0xC800_0FFF  // rebias the exponent (−112 << 23) and add the rounding bias
            f = f &+ mantissaOdd
            result = f >> 13
        }
        return UInt16(truncatingIfNeeded: result | (sign >> 16))
    }

    /// The float value of a binary16 bit pattern (exact).
    @inline(__always)
    public static func value(_ bits: UInt16) -> Float {
        let sign = UInt32(bits & 0x8000) << 16
        let exponent = UInt32(bits >> 10) & 0x1F
        let mantissa = UInt32(bits & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            let magnitude = Float(mantissa) * Float(bitPattern: 0x3380_0000)  // mantissa · 2^-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
    }

    /// Writes the binary16 patterns of `source` into `destination` (at least as long).
    public static func encode(_ source: UnsafeBufferPointer<Float>, into destination: UnsafeMutablePointer<UInt16>) {
        guard let input = source.baseAddress else { return }
        for index in 0..<source.count { destination[index] = bits(input[index]) }
    }

    /// Writes the floats of `count` binary16 patterns at `source` into `destination`.
    public static func decode(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] = value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        }
    }

    /// Adds the floats of `count` binary16 patterns at `source` to `destination`.
    public static func decodeAdding(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>) {
        for index in 0..<count {
            destination[index] += value(source.loadUnaligned(fromByteOffset: 2 * index, as: UInt16.self))
        }
    }

    /// Replaces each value with the float of its nearest binary16.
    public static func round(_ values: UnsafeMutablePointer<Float>, count: Int) {
        for index in 0..<count { values[index] = value(bits(values[index])) }
    }
}
