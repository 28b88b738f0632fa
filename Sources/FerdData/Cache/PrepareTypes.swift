/// Settings for `PackedCacheWriter.prepare`.
public struct PrepareOptions: Sendable {
    /// S: frames are resized (PIL bilinear) to S×S before they are stored.
    public var size: Int
    /// How to read the dataset; `skipBad` also lists clips with unreadable frames instead of failing.
    public var load: DatasetLoadOptions
    /// Decoding threads (nil: one per core).
    public var workers: Int?

    public init(size: Int = 112, load: DatasetLoadOptions = DatasetLoadOptions(), workers: Int? = nil) {
        self.size = size
        self.load = load
        self.workers = workers
    }
}

/// How far `prepare` has got; reported about once a second.
public struct PrepareProgress: Sendable {
    public var clipsDone: Int
    public var clipCount: Int
    public var framesDone: Int
    public var frameCount: Int
    public var seconds: Double

    /// 0…1.
    public var fraction: Double { frameCount == 0 ? 1 : Double(framesDone) / Double(frameCount) }
    public var framesPerSecond: Double { Double(framesDone) / max(seconds, 1e-9) }
    /// The estimated seconds left at the current rate.
    public var secondsLeft: Double {
        framesDone == 0 ? 0 : Double(frameCount - framesDone) / framesPerSecond
    }
}

/// What `prepare` wrote.
public struct PrepareReport: Sendable {
    public var cacheDirectory: String
    public var clips: Int
    public var frames: Int
    public var bytes: Int
    public var seconds: Double
    public var digest: String
    /// Clips left out (bad split lines, missing folders, unreadable frames), only with `skipBad`.
    public var skipped: [PackedSkip]

    public var framesPerSecond: Double { Double(frames) / max(seconds, 1e-9) }
}
