import Foundation

/// One clip read straight from a folder of frames, as the test split reads it: T frames picked by
/// the sampler's test rule, each resized to S×S — for `ferd predict` on a clip of any layout.
public enum ClipFolder {
    /// The clip in `directory` as float32 (T, 3, S, S) values in [0, 1].
    public static func load(_ directory: String, sampler: ClipSampler, size: Int) throws -> [Float] {
        guard let frames = FrameListing.frames(in: directory) else {
            throw DataError(file: directory, problem: "the clip folder does not exist",
                            fix: "give a folder of .jpg frames (e.g. data/00001 or Clip/clip_224x224/00001)")
        }
        guard !frames.isEmpty else {
            throw DataError(file: directory, problem: "the clip folder holds no .jpg frames", fix: "give a folder of .jpg frames")
        }
        var rng = SplitMix64(seed: 0)
        let decoder = JPEGDecoder()
        var values: [Float] = []
        values.reserveCapacity(sampler.length * 3 * size * size)
        for index in sampler.indices(frameCount: frames.count, mode: .test, using: &rng) {
            let image = try decoder.decodeFile(atPath: frames[index])
            values += FrameTransform(testingWidth: image.width, height: image.height, size: size).apply(image)
        }
        return values
    }
}
