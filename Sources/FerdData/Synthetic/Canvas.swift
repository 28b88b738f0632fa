import Foundation

/// A colour with components in 0…255.
struct Color: Sendable {
    var r: Float
    var g: Float
    var b: Float

    init(_ r: Float, _ g: Float, _ b: Float) {
        self.r = r
        self.g = g
        self.b = b
    }

    func scaled(_ factor: Float) -> Color {
        Color(r * factor, g * factor, b * factor)
    }

    func mixed(with other: Color, _ t: Float) -> Color {
        Color(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }
}

/// A square RGB uint8 frame with a "face" coordinate system (unit ≈ half a face width, y down):
/// pixel = centre + scale · R(roll) · (u, v). Shapes are given in face units and drawn with
/// coverage-based antialiasing from approximate signed distances.
struct Canvas {
    let pixels: UnsafeMutableBufferPointer<UInt8>
    let size: Int
    let centerX: Float
    let centerY: Float
    let scale: Float
    let cosRoll: Float
    let sinRoll: Float
    /// One pixel in face units.
    let pixelSize: Float

    init(pixels: UnsafeMutableBufferPointer<UInt8>, size: Int, centerX: Float, centerY: Float,
         scale: Float, roll: Float) {
        self.pixels = pixels
        self.size = size
        self.centerX = centerX
        self.centerY = centerY
        self.scale = scale
        cosRoll = cos(roll)
        sinRoll = sin(roll)
        pixelSize = 1 / scale
    }

    /// Calls `body(pixelIndex, u, v)` for every pixel whose face coordinates may fall in the box.
    @inline(__always)
    func forEachPixel(u uRange: ClosedRange<Float>, v vRange: ClosedRange<Float>,
                      _ body: (Int, Float, Float) -> Void) {
        var minX = Float.infinity, maxX = -Float.infinity, minY = Float.infinity, maxY = -Float.infinity
        for u in [uRange.lowerBound, uRange.upperBound] {
            for v in [vRange.lowerBound, vRange.upperBound] {
                let x = centerX + scale * (cosRoll * u - sinRoll * v)
                let y = centerY + scale * (sinRoll * u + cosRoll * v)
                minX = min(minX, x)
                maxX = max(maxX, x)
                minY = min(minY, y)
                maxY = max(maxY, y)
            }
        }
        let x0 = max(0, Int((minX - 1).rounded(.down))), x1 = min(size - 1, Int((maxX + 1).rounded(.up)))
        let y0 = max(0, Int((minY - 1).rounded(.down))), y1 = min(size - 1, Int((maxY + 1).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let inverse = pixelSize
        for y in y0...y1 {
            let dy = (Float(y) + 0.5 - centerY) * inverse
            for x in x0...x1 {
                let dx = (Float(x) + 0.5 - centerX) * inverse
                body(y * size + x, cosRoll * dx + sinRoll * dy, cosRoll * dy - sinRoll * dx)
            }
        }
    }

    /// The coverage of a pixel by a shape, from the signed distance (face units, negative inside).
    @inline(__always)
    func coverage(_ distance: Float) -> Float {
        min(max(0.5 - distance * scale, 0), 1)
    }

    @inline(__always)
    func blend(_ index: Int, _ color: Color, _ alpha: Float) {
        guard alpha > 0 else { return }
        let p = index * 3
        if alpha >= 1 {
            pixels[p] = Self.byte(color.r)
            pixels[p + 1] = Self.byte(color.g)
            pixels[p + 2] = Self.byte(color.b)
            return
        }
        pixels[p] = Self.mix(pixels[p], color.r, alpha)
        pixels[p + 1] = Self.mix(pixels[p + 1], color.g, alpha)
        pixels[p + 2] = Self.mix(pixels[p + 2], color.b, alpha)
    }

    @inline(__always)
    private static func mix(_ old: UInt8, _ new: Float, _ alpha: Float) -> UInt8 {
        byte(Float(old) + (new - Float(old)) * alpha)
    }

    /// `value` rounded and clamped to 0…255.
    @inline(__always)
    static func byte(_ value: Float) -> UInt8 {
        UInt8(truncatingIfNeeded: Int32(truncatingIfNeeded: Int(min(max(value, 0), 255) + 0.5)))
    }

    /// The approximate signed distance to an axis-aligned ellipse (exact on the axes).
    @inline(__always)
    static func ellipseDistance(_ u: Float, _ v: Float, radiusU: Float, radiusV: Float) -> Float {
        let nu = u / radiusU, nv = v / radiusV
        let r = (nu * nu + nv * nv).squareRoot()
        return (r - 1) * min(radiusU, radiusV)
    }

    /// Fills an axis-aligned (in face space) ellipse.
    func fillEllipse(u cu: Float, v cv: Float, radiusU: Float, radiusV: Float, color: Color, alpha: Float = 1) {
        let ellipse = EllipseCoverage(radiusU: radiusU, radiusV: radiusV, scale: scale)
        forEachPixel(u: (cu - radiusU)...(cu + radiusU), v: (cv - radiusV)...(cv + radiusV)) { i, u, v in
            blend(i, color, alpha * ellipse.coverage(u - cu, v - cv))
        }
    }

    /// Strokes the segment a–b with round caps.
    func strokeSegment(from a: (Float, Float), to b: (Float, Float), thickness: Float, color: Color,
                       alpha: Float = 1) {
        let half = thickness / 2
        let du = b.0 - a.0, dv = b.1 - a.1
        let lengthSquared = max(du * du + dv * dv, 1e-12)
        forEachPixel(u: (min(a.0, b.0) - half)...(max(a.0, b.0) + half),
                     v: (min(a.1, b.1) - half)...(max(a.1, b.1) + half)) { i, u, v in
            let t = min(max(((u - a.0) * du + (v - a.1) * dv) / lengthSquared, 0), 1)
            let eu = u - a.0 - t * du, ev = v - a.1 - t * dv
            blend(i, color, alpha * coverage((eu * eu + ev * ev).squareRoot() - half))
        }
    }

    /// Strokes the parabola v = cv + bend·((u − cu)/halfWidth)² for |u − cu| ≤ halfWidth.
    func strokeParabola(u cu: Float, v cv: Float, halfWidth: Float, bend: Float, thickness: Float,
                        color: Color, alpha: Float = 1) {
        let half = thickness / 2
        let low = min(0, bend) - half, high = max(0, bend) + half
        forEachPixel(u: (cu - halfWidth - half)...(cu + halfWidth + half), v: (cv + low)...(cv + high)) { i, u, v in
            let x = min(max((u - cu) / halfWidth, -1), 1)
            let curve = cv + bend * x * x
            let slope = 2 * bend * x / halfWidth
            let vertical = abs(v - curve) / (1 + slope * slope).squareRoot()
            let beyond = max(abs(u - cu) - halfWidth, 0)
            blend(i, color, alpha * coverage((vertical * vertical + beyond * beyond).squareRoot() - half))
        }
    }
}

/// The antialiased coverage of an axis-aligned ellipse centred at the origin, like
/// `Canvas.coverage(Canvas.ellipseDistance(…))` but without a square root away from the edge.
struct EllipseCoverage {
    private let inverseU: Float
    private let inverseV: Float
    private let edgeScale: Float
    private let innerSquared: Float
    private let outerSquared: Float

    init(radiusU: Float, radiusV: Float, scale: Float) {
        inverseU = 1 / radiusU
        inverseV = 1 / radiusV
        edgeScale = min(radiusU, radiusV) * scale
        let band = 0.5 / edgeScale
        innerSquared = max(0, 1 - band) * max(0, 1 - band)
        outerSquared = (1 + band) * (1 + band)
    }

    @inline(__always)
    func coverage(_ u: Float, _ v: Float) -> Float {
        let nu = u * inverseU, nv = v * inverseV
        let squared = nu * nu + nv * nv
        if squared <= innerSquared { return 1 }
        if squared >= outerSquared { return 0 }
        return min(max(0.5 - (squared.squareRoot() - 1) * edgeScale, 0), 1)
    }
}
