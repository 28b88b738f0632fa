/// Where a `ClipLoader` reads frames from.
public enum FrameStore: Sendable {
    /// A packed cache (fast path): frames are S×S bytes in a memory-mapped file.
    case cache(PackedCache)
    /// The clips' JPEG folders (slow path): frames are decoded and resized to S×S on the fly.
    case jpegFolders
}

/// Settings for a `ClipLoader`.
public struct ClipLoaderOptions: Sendable {
    public var mode: SamplingMode
    /// Which frames of each clip (T = U·V).
    public var sampler: ClipSampler
    /// S: the output frames are S×S.
    public var size: Int
    public var batchSize: Int
    /// Shuffle the clip order every epoch (seeded); default on for training.
    public var shuffle: Bool
    /// Leave out the last, incomplete batch; default on for training.
    public var dropLast: Bool
    /// Training augmentation; nil (the default for testing) resizes whole frames only.
    public var augmentation: ClipAugmentation?
    public var seed: UInt64
    /// Batches built ahead of the consumer.
    public var prefetch: Int
    /// Threads per batch (nil: one per core).
    public var workers: Int?
    /// Leave a clip whose frames cannot be read (missing, empty, damaged) out of its batch and of every
    /// later one, with a warning, instead of ending the epoch with its error. Default off.
    public var skipBad: Bool

    public init(mode: SamplingMode, sampler: ClipSampler = ClipSampler(), size: Int = 112, batchSize: Int = 40,
                seed: UInt64 = 0) {
        precondition(size > 0 && batchSize > 0, "size and batchSize must be positive")
        self.mode = mode
        self.sampler = sampler
        self.size = size
        self.batchSize = batchSize
        shuffle = mode == .train
        dropLast = mode == .train
        augmentation = mode == .train ? ClipAugmentation(size: size) : nil
        self.seed = seed
        prefetch = 2
        workers = nil
        skipBad = false
    }
}
