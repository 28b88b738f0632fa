import Foundation

/// The fixed-point resampling weights for one axis, computed exactly as PIL's `precompute_coeffs`
/// and `normalize_coeffs_8bpc` do for the triangle (bilinear) filter.
struct ResampleAxis: Sendable {
    static let precisionBits = 32 - 8 - 2

    /// The maximum number of taps per output sample.
    let taps: Int
    /// For output sample `i`: the first input index at `2i` and the number of taps at `2i + 1`.
    let bounds: [Int]
    /// `taps` coefficients per output sample, scaled by 2^22 and rounded away from zero.
    let weights: [Int32]

    init(inputSize: Int, outputSize: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filterScale
        let inverseFilterScale = 1 / filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var bounds = [Int](repeating: 0, count: outputSize * 2)
        var weights = [Int32](repeating: 0, count: outputSize * taps)
        var kernel = [Double](repeating: 0, count: taps)
        for out in 0..<outputSize {
            let center = (Double(out) + 0.5) * scale
            let first = max(Int(center - support + 0.5), 0)
            let count = min(Int(center + support + 0.5), inputSize) - first
            var total = 0.0
            for tap in 0..<count {
                let w = max(0, 1 - abs((Double(tap + first) - center + 0.5) * inverseFilterScale))
                kernel[tap] = w
                total += w
            }
            for tap in 0..<count {
                let k = total != 0 ? kernel[tap] / total : kernel[tap]
                let scaled = k * Double(1 << Self.precisionBits)
                weights[out * taps + tap] = Int32(k < 0 ? scaled - 0.5 : scaled + 0.5)
            }
            bounds[2 * out] = first
            bounds[2 * out + 1] = count
        }
        self.taps = taps
        self.bounds = bounds
        self.weights = weights
    }
}

/// Resizes RGB images exactly like PIL's `Image.resize((w, h), Image.BILINEAR)` (Pillow ≥ 7): a
/// triangle filter whose support grows with the downscale factor (antialiasing), applied as a
/// horizontal then a vertical pass in 22-bit fixed point, rounding and clipping to uint8 in between.
/// Build one per (input size, output size) pair and reuse it; it is immutable and `Sendable`.
public struct BilinearResizer: Sendable {
    public let inputWidth: Int
    public let inputHeight: Int
    public let outputWidth: Int
    public let outputHeight: Int
    private let horizontal: ResampleAxis
    private let vertical: ResampleAxis

    public init(inputWidth: Int, inputHeight: Int, outputWidth: Int, outputHeight: Int) {
        precondition(inputWidth > 0 && inputHeight > 0 && outputWidth > 0 && outputHeight > 0,
                     "image sizes must be positive")
        self.inputWidth = inputWidth
        self.inputHeight = inputHeight
        self.outputWidth = outputWidth
        self.outputHeight = outputHeight
        horizontal = ResampleAxis(inputSize: inputWidth, outputSize: outputWidth)
        vertical = ResampleAxis(inputSize: inputHeight, outputSize: outputHeight)
    }

    /// Resizes `image`, which must be `inputWidth × inputHeight`.
    public func resize(_ image: RGBImage) -> RGBImage {
        precondition(image.width == inputWidth && image.height == inputHeight,
                     "BilinearResizer built for \(inputWidth)×\(inputHeight), got \(image.width)×\(image.height)")
        var output = [UInt8](repeating: 0, count: outputWidth * outputHeight * 3)
        image.pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in resize(source, into: target) }
        }
        return RGBImage(width: outputWidth, height: outputHeight, pixels: output)
    }

    /// Resizes the interleaved RGB `source` (`inputWidth × inputHeight × 3` bytes) into `target`
    /// (`outputWidth × outputHeight × 3` bytes).
    public func resize(_ source: UnsafeBufferPointer<UInt8>, into target: UnsafeMutableBufferPointer<UInt8>) {
        precondition(source.count >= inputWidth * inputHeight * 3 && target.count >= outputWidth * outputHeight * 3,
                     "resize buffers are too small")
        let needHorizontal = inputWidth != outputWidth
        let needVertical = inputHeight != outputHeight
        switch (needHorizontal, needVertical) {
        case (false, false):
            _ = target.initialize(from: source.prefix(inputWidth * inputHeight * 3))
        case (true, false):
            Self.horizontalPass(source, width: inputWidth, rows: 0..<inputHeight, axis: horizontal,
                                into: target, outputWidth: outputWidth)
        case (false, true):
            Self.verticalPass(source, width: inputWidth, firstRow: 0, axis: vertical,
                              into: target, outputHeight: outputHeight)
        case (true, true):
            let firstRow = vertical.bounds[0]
            let endRow = vertical.bounds[2 * outputHeight - 2] + vertical.bounds[2 * outputHeight - 1]
            var temporary = [UInt8](repeating: 0, count: outputWidth * (endRow - firstRow) * 3)
            temporary.withUnsafeMutableBufferPointer { middle in
                Self.horizontalPass(source, width: inputWidth, rows: firstRow..<endRow, axis: horizontal,
                                    into: middle, outputWidth: outputWidth)
                Self.verticalPass(UnsafeBufferPointer(middle), width: outputWidth, firstRow: firstRow,
                                  axis: vertical, into: target, outputHeight: outputHeight)
            }
        }
    }

    @inline(__always)
    private static func clip8(_ value: Int32) -> UInt8 {
        if value >= Int32(1) << (ResampleAxis.precisionBits + 8) { return 255 }
        if value <= 0 { return 0 }
        return UInt8(truncatingIfNeeded: value >> ResampleAxis.precisionBits)
    }

    private static func horizontalPass(_ source: UnsafeBufferPointer<UInt8>, width: Int, rows: Range<Int>,
                                       axis: ResampleAxis, into target: UnsafeMutableBufferPointer<UInt8>,
                                       outputWidth: Int) {
        let half = Int32(1) << (ResampleAxis.precisionBits - 1)
        axis.weights.withUnsafeBufferPointer { weights in
            axis.bounds.withUnsafeBufferPointer { bounds in
                for (outRow, row) in rows.enumerated() {
                    let input = row * width * 3
                    let output = outRow * outputWidth * 3
                    for x in 0..<outputWidth {
                        let first = bounds[2 * x]
                        let count = bounds[2 * x + 1]
                        let k = x * axis.taps
                        var r = half, g = half, b = half
                        for tap in 0..<count {
                            let w = weights[k + tap]
                            let p = input + (first + tap) * 3
                            r &+= Int32(source[p]) &* w
                            g &+= Int32(source[p + 1]) &* w
                            b &+= Int32(source[p + 2]) &* w
                        }
                        target[output + x * 3] = clip8(r)
                        target[output + x * 3 + 1] = clip8(g)
                        target[output + x * 3 + 2] = clip8(b)
                    }
                }
            }
        }
    }

    private static func verticalPass(_ source: UnsafeBufferPointer<UInt8>, width: Int, firstRow: Int,
                                     axis: ResampleAxis, into target: UnsafeMutableBufferPointer<UInt8>,
                                     outputHeight: Int) {
        let half = Int32(1) << (ResampleAxis.precisionBits - 1)
        let rowLength = width * 3
        var accumulator = [Int32](repeating: 0, count: rowLength)
        accumulator.withUnsafeMutableBufferPointer { sums in
            axis.weights.withUnsafeBufferPointer { weights in
                for y in 0..<outputHeight {
                    let first = axis.bounds[2 * y] - firstRow
                    let count = axis.bounds[2 * y + 1]
                    let k = y * axis.taps
                    sums.update(repeating: half)
                    for tap in 0..<count {
                        let w = weights[k + tap]
                        let input = (first + tap) * rowLength
                        for i in 0..<rowLength {
                            sums[i] &+= Int32(source[input + i]) &* w
                        }
                    }
                    let output = y * rowLength
                    for i in 0..<rowLength {
                        target[output + i] = clip8(sums[i])
                    }
                }
            }
        }
    }
}

extension RGBImage {
    /// This image resized like PIL's `resize((width, height), Image.BILINEAR)`.
    public func resized(width: Int, height: Int) -> RGBImage {
        BilinearResizer(inputWidth: self.width, inputHeight: self.height,
                        outputWidth: width, outputHeight: height).resize(self)
    }
}
