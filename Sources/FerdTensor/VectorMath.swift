/// exp and tanh on eight lanes at once, for the element-wise operations whose scalar libm calls
/// (tanhf calls expm1f) cost more than the rest of the operation. Both follow Cephes' single-precision
/// algorithms (Moshier, "Methods and Programs for Mathematical Functions", 1989): a range reduction and a
/// short polynomial: within 1 ulp (exp) and 1.3 ulps (tanh) of double-precision libm over dense sweeps
/// (`VectorMathTests`).
enum VectorMath {
    /// Eight lanes: twice an SSE register, which the portable x86-64 build compiles to without spilling.
    typealias Vector = SIMD8<Float>
    static let lanes = Vector.scalarCount

    /// e^x for x in [−87, 88]: x = n·ln 2 + r with |r| ≤ ln 2 / 2, e^r by a degree-6 polynomial, times 2ⁿ.
    /// Inputs outside that range are clamped to it; NaN stays NaN.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        let clamped = x.clamped(lowerBound: Vector(repeating: -87), upperBound: Vector(repeating: 88))
        // n = round(x / ln 2) by adding and subtracting 1.5·2²³ (plain SSE has no rounding instruction); the
        // sum's low mantissa bits are then n itself.
        let shifted = clamped * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        // ln 2 in two parts, the first exact in a few bits, so that n·ln 2 is subtracted without rounding.
        var r = clamped - n * 0.693359375
        r = r + n * 2.12194440e-4
        var p = Vector(repeating: 1.9875691500e-4)
        p = p * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let e = p * (r * r) + r + 1
        let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
        let scale = unsafeBitCast(exponent, to: Vector.self)
        return (e * scale).replacing(with: x, where: x .!= x)
    }

    /// tanh x: an odd polynomial below |x| = 0.625, 1 − 2/(e^{2|x|} + 1) above it (±1 beyond |x| = 9).
    @inline(__always)
    static func tanh(_ x: Vector) -> Vector {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let z = x * x
        var p = Vector(repeating: -5.70498872745e-3)
        p = p * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        // x·(1 + z·p) rather than x + x·z·p, so that tanh(−0) = −0.
        let small = x * (1 + z * p)
        var large = 1 - 2 / (exp(2 * magnitude) + 1)
        large.replace(with: 1, where: magnitude .> 9)
        large.replace(with: -large, where: x .< 0)
        return small.replacing(with: large, where: .!(magnitude .< 0.625))
    }

    /// Applies `body` to `count` values eight at a time; the last partial group goes through a zero-padded
    /// vector, so every value is computed by the same instructions wherever it sits.
    @inline(__always)
    static func forEachVector(count: Int, _ body: (_ offset: Int, _ lanes: Int) -> Void) {
        var i = 0
        while i + lanes <= count {
            body(i, lanes)
            i += lanes
        }
        if i < count { body(i, count - i) }
    }

    @inline(__always)
    static func load(_ pointer: UnsafePointer<Float>, lanes: Int) -> Vector {
        if lanes == Self.lanes { return UnsafeRawPointer(pointer).loadUnaligned(as: Vector.self) }
        var v = Vector()
        for lane in 0..<lanes { v[lane] = pointer[lane] }
        return v
    }

    @inline(__always)
    static func store(_ v: Vector, _ pointer: UnsafeMutablePointer<Float>, lanes: Int) {
        if lanes == Self.lanes { return UnsafeMutableRawPointer(pointer).storeBytes(of: v, as: Vector.self) }
        for lane in 0..<lanes { pointer[lane] = v[lane] }
    }
}
