import Foundation

/// Turns one uint8 RGB frame into S×S float32 planar RGB (3, S, S): the geometry step (resize or
/// crop + resize, PIL bilinear), then flip and rotation (a precomputed nearest-pixel map) and the
/// value step (x / 255, times the brightness factor, clamped to [0, 1]). Built once per clip and
/// applied to each of its frames; immutable and `Sendable`.
public struct FrameTransform: Sendable {
    public let sourceWidth: Int
    public let sourceHeight: Int
    /// S.
    public let size: Int
    private let geometry: Geometry
    /// For each output pixel, the pixel of the S×S geometry output it shows, or −1 for the zero fill;
    /// nil for the identity.
    private let pixelMap: [Int32]?
    /// The float value of each byte.
    private let values: [Float]

    private enum Geometry: Sendable {
        case resize(BilinearResizer)
        case cropThenResize(x: Int, y: Int, BilinearResizer)
        case resizeThenCrop(BilinearResizer, x: Int, y: Int)
    }

    /// The evaluation transform: PIL bilinear resize of the whole frame to S×S, then / 255.
    public init(testingWidth width: Int, height: Int, size: Int) {
        sourceWidth = width
        sourceHeight = height
        self.size = size
        geometry = .resize(BilinearResizer(inputWidth: width, inputHeight: height, outputWidth: size, outputHeight: size))
        pixelMap = nil
        values = Self.valueTable(brightness: 1)
    }

    /// The training transform for `parameters` drawn for frames of `width × height`.
    public init(_ parameters: AugmentationParameters, width: Int, height: Int, size: Int) {
        sourceWidth = width
        sourceHeight = height
        self.size = size
        switch parameters.crop {
        case let .sized(x, y, w, h):
            precondition(x >= 0 && y >= 0 && x + w <= width && y + h <= height, "crop box outside the frame")
            geometry = .cropThenResize(x: x, y: y, BilinearResizer(inputWidth: w, inputHeight: h,
                                                                   outputWidth: size, outputHeight: size))
        case let .scaled(w, h, x, y):
            precondition(x >= 0 && y >= 0 && x + size <= w && y + size <= h, "crop box outside the scaled frame")
            geometry = .resizeThenCrop(BilinearResizer(inputWidth: width, inputHeight: height,
                                                       outputWidth: w, outputHeight: h), x: x, y: y)
        }
        pixelMap = parameters.flip || parameters.angle != 0
            ? Self.pixelMap(size: size, flip: parameters.flip, degrees: parameters.angle) : nil
        values = Self.valueTable(brightness: parameters.brightness)
    }

    /// Transforms `frame` (`sourceWidth × sourceHeight × 3` bytes) into `output` (3·S·S floats, planar).
    public func apply(_ frame: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Float>) {
        precondition(frame.count >= sourceWidth * sourceHeight * 3 && output.count >= 3 * size * size,
                     "frame transform buffers are too small")
        var square = [UInt8](repeating: 0, count: size * size * 3)
        square.withUnsafeMutableBufferPointer { square in
            resample(frame, into: square)
            writeValues(UnsafeBufferPointer(square), into: output)
        }
    }

    /// Transforms `image`, which must be `sourceWidth × sourceHeight`, into 3·S·S planar floats.
    public func apply(_ image: RGBImage) -> [Float] {
        precondition(image.width == sourceWidth && image.height == sourceHeight, "frame size differs from the transform's")
        return [Float](unsafeUninitializedCapacity: 3 * size * size) { buffer, count in
            image.pixels.withUnsafeBufferPointer { apply($0, into: buffer) }
            count = 3 * size * size
        }
    }

    private func resample(_ frame: UnsafeBufferPointer<UInt8>, into square: UnsafeMutableBufferPointer<UInt8>) {
        switch geometry {
        case let .resize(resizer):
            resizer.resize(frame, into: square)
        case let .cropThenResize(x, y, resizer):
            var box = [UInt8](repeating: 0, count: resizer.inputWidth * resizer.inputHeight * 3)
            box.withUnsafeMutableBufferPointer { box in
                Self.copyBox(frame, width: sourceWidth, x: x, y: y, boxWidth: resizer.inputWidth,
                             boxHeight: resizer.inputHeight, into: box)
                resizer.resize(UnsafeBufferPointer(box), into: square)
            }
        case let .resizeThenCrop(resizer, x, y):
            var scaled = [UInt8](repeating: 0, count: resizer.outputWidth * resizer.outputHeight * 3)
            scaled.withUnsafeMutableBufferPointer { scaled in
                resizer.resize(frame, into: scaled)
                Self.copyBox(UnsafeBufferPointer(scaled), width: resizer.outputWidth, x: x, y: y, boxWidth: size,
                             boxHeight: size, into: square)
            }
        }
    }

    private func writeValues(_ square: UnsafeBufferPointer<UInt8>, into output: UnsafeMutableBufferPointer<Float>) {
        let plane = size * size
        values.withUnsafeBufferPointer { table in
            if let pixelMap {
                pixelMap.withUnsafeBufferPointer { map in
                    for p in 0..<plane {
                        let source = Int(map[p])
                        guard source >= 0 else {
                            output[p] = 0
                            output[plane + p] = 0
                            output[2 * plane + p] = 0
                            continue
                        }
                        output[p] = table[Int(square[3 * source])]
                        output[plane + p] = table[Int(square[3 * source + 1])]
                        output[2 * plane + p] = table[Int(square[3 * source + 2])]
                    }
                }
            } else {
                for p in 0..<plane {
                    output[p] = table[Int(square[3 * p])]
                    output[plane + p] = table[Int(square[3 * p + 1])]
                    output[2 * plane + p] = table[Int(square[3 * p + 2])]
                }
            }
        }
    }

    private static func copyBox(_ source: UnsafeBufferPointer<UInt8>, width: Int, x: Int, y: Int, boxWidth: Int,
                                boxHeight: Int, into target: UnsafeMutableBufferPointer<UInt8>) {
        let rowBytes = boxWidth * 3
        for row in 0..<boxHeight {
            let from = ((y + row) * width + x) * 3
            UnsafeMutableRawPointer(target.baseAddress! + row * rowBytes)
                .copyMemory(from: source.baseAddress! + from, byteCount: rowBytes)
        }
    }

    /// `min(max((b / 255) · brightness, 0), 1)` in float32 for every byte b, as torchvision computes it.
    static func valueTable(brightness: Float) -> [Float] {
        (0..<256).map { min(max((Float($0) / 255) * brightness, 0), 1) }
    }

    /// The source pixel of each output pixel after a horizontal flip (if `flip`) followed by PIL's
    /// `rotate(degrees, NEAREST)` about (S/2, S/2): the inverse affine map in 16.16 fixed point, as
    /// Pillow's `affine_fixed` evaluates it, with −1 where the source falls outside (zero fill).
    static func pixelMap(size: Int, flip: Bool, degrees: Double) -> [Int32] {
        let rotation = rotationSources(width: size, height: size, degrees: degrees)
        return rotation.map { source in
            guard source >= 0, flip else { return source }
            let y = Int(source) / size, x = Int(source) % size
            return Int32(y * size + (size - 1 - x))
        }
    }

    /// For each pixel of a `width × height` image rotated by PIL's `rotate(degrees, NEAREST)`, the
    /// index of the source pixel, or −1 for the fill.
    static func rotationSources(width: Int, height: Int, degrees: Double) -> [Int32] {
        let identity = (0..<Int32(width * height)).map { $0 }
        guard degrees.truncatingRemainder(dividingBy: 360) != 0 else { return identity }
        let radians = -degrees * Double.pi / 180
        let a = round15(cos(radians)), b = round15(sin(radians))
        let d = round15(-sin(radians)), e = round15(cos(radians))
        let centerX = Double(width) / 2, centerY = Double(height) / 2
        let c = a * -centerX + b * -centerY + 0.0 + centerX
        let f = d * -centerX + e * -centerY + 0.0 + centerY
        func fix(_ v: Double) -> Int32 { Int32(truncatingIfNeeded: Int64((v * 65536 + 0.5).rounded(.down))) }
        let a0 = fix(a), a1 = fix(b), a3 = fix(d), a4 = fix(e)
        var a2 = fix(c + a * 0.5 + b * 0.5), a5 = fix(f + d * 0.5 + e * 0.5)
        var result = [Int32](repeating: -1, count: width * height)
        for y in 0..<height {
            var xx = a2, yy = a5
            for x in 0..<width {
                let xin = Int(xx >> 16), yin = Int(yy >> 16)
                if xin >= 0 && xin < width && yin >= 0 && yin < height {
                    result[y * width + x] = Int32(yin * width + xin)
                }
                xx &+= a0
                yy &+= a3
            }
            a2 &+= a1
            a5 &+= a4
        }
        return result
    }

    /// Python's `round(v, 15)`.
    private static func round15(_ v: Double) -> Double {
        (v * 1e15).rounded(.toNearestOrEven) / 1e15
    }
}
