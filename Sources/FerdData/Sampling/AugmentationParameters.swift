/// The random choices of one clip's training augmentation, shared by all its frames.
public struct AugmentationParameters: Sendable, Equatable {
    /// Which part of the frame becomes the S×S output.
    public enum Crop: Sendable, Equatable {
        /// Crop the `width × height` box at (`x`, `y`), then resize it to S×S (PIL bilinear).
        case sized(x: Int, y: Int, width: Int, height: Int)
        /// The fallback after 10 failed tries: resize the frame to `width × height` (shorter side S),
        /// then take the S×S box at (`x`, `y`).
        case scaled(width: Int, height: Int, x: Int, y: Int)
    }

    public var crop: Crop
    /// Mirror left–right.
    public var flip: Bool
    /// Multiplies the [0, 1] pixel values (the result is clamped to [0, 1]).
    public var brightness: Float
    /// Counter-clockwise rotation in degrees.
    public var angle: Double

    public init(crop: Crop, flip: Bool, brightness: Float, angle: Double) {
        self.crop = crop
        self.flip = flip
        self.brightness = brightness
        self.angle = angle
    }
}
