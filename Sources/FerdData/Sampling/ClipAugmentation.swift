/// The reference code's training augmentation (`video_transform.py`), with one draw of random
/// parameters per clip: GroupRandomSizedCrop(S) (10 tries of area U(0.85, 1)·W·H and aspect
/// U(3/5, 5/3), else shorter side to S and a random S crop), horizontal flip with p = 0.5,
/// brightness factor U(0.4, 1.6) and rotation U(−4°, 4°) (nearest, zero fill, about the centre).
public struct ClipAugmentation: Sendable, Equatable {
    /// S: the output width and height.
    public var size: Int
    /// The crop area as a fraction of the frame area.
    public var areaRange: ClosedRange<Double>
    /// The crop aspect ratio (width / height) before the random swap.
    public var aspectRange: ClosedRange<Double>
    public var cropAttempts: Int
    public var flipProbability: Double
    /// The brightness factor is drawn from U(1 − brightness, 1 + brightness).
    public var brightness: Double
    /// The rotation angle is drawn from U(−maxRotation, maxRotation) degrees.
    public var maxRotation: Double

    public init(size: Int = 112, areaRange: ClosedRange<Double> = 0.85...1,
                aspectRange: ClosedRange<Double> = (3.0 / 5)...(5.0 / 3), cropAttempts: Int = 10,
                flipProbability: Double = 0.5, brightness: Double = 0.6, maxRotation: Double = 4) {
        precondition(size > 0, "augmentation size must be positive")
        self.size = size
        self.areaRange = areaRange
        self.aspectRange = aspectRange
        self.cropAttempts = cropAttempts
        self.flipProbability = flipProbability
        self.brightness = brightness
        self.maxRotation = maxRotation
    }

    /// Draws the parameters for a clip whose frames are `width × height`.
    public func parameters(width: Int, height: Int, using rng: inout SplitMix64) -> AugmentationParameters {
        let crop = drawCrop(width: width, height: height, &rng)
        let flip = rng.uniformDouble() < flipProbability
        let factor = Float(rng.uniformDouble(max(0, 1 - brightness), 1 + brightness))
        let angle = rng.uniformDouble(-maxRotation, maxRotation)
        return AugmentationParameters(crop: crop, flip: flip, brightness: factor, angle: angle)
    }

    /// The parameters for clip `clip` (its position in the clip list) in `epoch`, from its own stream.
    public func parameters(width: Int, height: Int, seed: UInt64, epoch: Int, clip: Int) -> AugmentationParameters {
        var rng = SeededRandom.generator(seed: seed, purpose: .augmentation, epoch: epoch, clip: clip)
        return parameters(width: width, height: height, using: &rng)
    }

    private func drawCrop(width: Int, height: Int, _ rng: inout SplitMix64) -> AugmentationParameters.Crop {
        let area = Double(width * height)
        for _ in 0..<cropAttempts {
            let target = rng.uniformDouble(areaRange.lowerBound, areaRange.upperBound) * area
            let aspect = rng.uniformDouble(aspectRange.lowerBound, aspectRange.upperBound)
            var w = Int((target * aspect).squareRoot().rounded(.toNearestOrEven))
            var h = Int((target / aspect).squareRoot().rounded(.toNearestOrEven))
            if rng.uniformDouble() < 0.5 { swap(&w, &h) }
            if w <= width && h <= height && w > 0 && h > 0 {
                let x = rng.integer(in: 0...(width - w))
                let y = rng.integer(in: 0...(height - h))
                return .sized(x: x, y: y, width: w, height: h)
            }
        }
        let (scaledWidth, scaledHeight) = Self.shorterSide(width: width, height: height, to: size)
        let x = rng.integer(in: 0...(scaledWidth - size))
        let y = rng.integer(in: 0...(scaledHeight - size))
        return .scaled(width: scaledWidth, height: scaledHeight, x: x, y: y)
    }

    /// torchvision's `Resize(size)`: the shorter side becomes `size`, the longer `int(size · long / short)`.
    static func shorterSide(width: Int, height: Int, to size: Int) -> (width: Int, height: Int) {
        if width <= height {
            return (size, Int(Double(size * height) / Double(width)))
        }
        return (Int(Double(size * width) / Double(height)), size)
    }
}
