import Foundation

/// One clip read straight from a folder of frames, as the test split reads it: T frames picked by
/// the sampler's test rule, each resized to S×S — for `ferd predict` on a clip of any layout. A single
/// .jpg file (a RAF-DB aligned face) is a 1-frame clip, repeated as the sampler repeats short clips.
public enum ClipFolder {
    /// The clip in `path` (a folder of .jpg frames, or one .jpg image) as float32 (T, 3, S, S) values in [0, 1].
    public static func load(_ path: String, sampler: ClipSampler, size: Int) throws -> [Float] {
        var isDirectory: ObjCBool = false
        let isFile = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
        let listed = isFile ? [path] : FrameListing.frames(in: path)
        guard let frames = listed else {
            throw DataError(file: path, problem: "the clip folder does not exist",
                            fix: "give a folder of .jpg frames (e.g. data/00001 or Clip/clip_224x224/00001) or one .jpg image")
        }
        guard !frames.isEmpty else {
            throw DataError(file: path, problem: "the clip folder holds no .jpg frames", fix: "give a folder of .jpg frames")
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
