/// One clip in a packed cache: where its frames are and which folds use it.
public struct PackedClip: Codable, Sendable, Equatable {
    public var id: String
    /// The clip folder, relative to the dataset root when it lies inside it.
    public var directory: String
    /// 0…6.
    public var label: Int
    public var frameCount: Int
    /// The byte offset of the clip's first frame in the frames file; frames follow each other.
    public var offset: Int
    /// The folds (1…5) whose train split holds the clip.
    public var trainFolds: [Int]
    /// The folds (1…5) whose test split holds the clip.
    public var testFolds: [Int]
    /// The original frame file names in playback order, joined with newlines.
    public var frameNames: String
}

/// A clip left out of a packed cache, and why.
public struct PackedSkip: Codable, Sendable, Equatable {
    public var id: String
    public var reason: String
}

/// The `index.json` of a packed cache: the settings, the input digest and every clip.
struct PackedCacheIndex: Codable, Sendable {
    static let formatName = "ferd-packed-cache"
    static let currentVersion = 1
    static let indexFile = "index.json"
    static let framesFile = "frames.rgb"

    var format = formatName
    var version = currentVersion
    /// S: frames are S×S×3 bytes.
    var size: Int
    var dataRoot: String
    var layout: String
    var officialClips: String?
    var skipBad: Bool
    var folds: [Int]
    /// The SHA-256 of the inputs (see `DatasetDigest`).
    var digest: String
    var totalFrames: Int
    var clips: [PackedClip]
    var skipped: [PackedSkip]
}
