import FerdData
import FerdTraining
import Logging

/// Where a trial's clips come from: a dataset folder (any `DatasetLayout`) and, optionally, a packed cache of it.
public struct DataSource: Sendable, Codable, Equatable {
    public var root: String
    public var layout: String?
    /// A folder written by `ferd prepare`; when set, frames are read from it instead of JPEGs.
    public var cache: String?
    /// Skip bad clips (bad split lines, missing folders, frames that cannot be decoded), each with a
    /// warning, instead of stopping at the first. For one process only: a gang's members would disagree.
    public var skipBad: Bool
    /// Reproduce the reference code's sampling quirks (see docs/DATA.md).
    public var referenceQuirks: Bool

    public init(root: String, layout: String? = nil, cache: String? = nil, skipBad: Bool = false,
                referenceQuirks: Bool = false) {
        self.root = root
        self.layout = layout
        self.cache = cache
        self.skipBad = skipBad
        self.referenceQuirks = referenceQuirks
    }
}

/// The training and test batches of one fold for the trainer: T frames of S×S per clip as the
/// model's configuration says, sampled in segments of the settings' `framesPerSegment` frames when above 1, else as
/// the dataset's layout says (`DatasetLayout.sampler`: FERV39k in segments of 2 frames), and augmented as the
/// reference code does.
public struct FoldBatches: BatchProvider {
    public let train: ClipLoader
    public let test: ClipLoader

    public init(source: DataSource, fold: Int, settings: TrainingSettings, logger: Logger) throws {
        let store: FrameStore
        let split: DatasetFold
        let layout: DatasetLayout
        if let cachePath = source.cache {
            let cache = try PackedCache(directory: cachePath, logger: logger)
            try cache.verifyDataset(logger: logger)
            try cache.layout.checkFolds([fold], root: cache.dataRoot)
            guard let cached = cache.fold(fold) else {
                throw TrainingError.data("the packed cache \(cachePath) has no fold \(fold); re-run `\(cache.prepareCommand)`")
            }
            store = .cache(cache)
            split = cached
            layout = cache.layout
        } else {
            let named = try source.layout.map { name throws in
                guard let layout = DatasetLayout(rawValue: name) else {
                    throw TrainingError.data("layout '\(name)' is not known; use \(DatasetLayout.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return layout
            }
            let index = try DatasetIndex.load(root: source.root,
                                              options: DatasetLoadOptions(layout: named, skipBad: source.skipBad, folds: [fold]),
                                              logger: logger)
            for skipped in index.skipped {
                logger.warning("skipped clip \(skipped.id) (\(skipped.split) of fold \(skipped.fold)): \(skipped.reason)")
            }
            guard let loaded = index.fold(fold) else { throw TrainingError.data("\(source.root) has no fold \(fold)") }
            store = .jpegFolders
            split = loaded
            layout = index.layout
        }
        let sampler = layout.sampler(frames: settings.model.frames, referenceQuirks: source.referenceQuirks,
                                     framesPerSegment: settings.framesPerSegment)
        var trainOptions = ClipLoaderOptions(mode: .train, sampler: sampler, size: settings.model.imageSize,
                                             batchSize: settings.batchSize, seed: settings.seed)
        var testOptions = ClipLoaderOptions(mode: .test, sampler: sampler, size: settings.model.imageSize,
                                            batchSize: settings.batchSize, seed: settings.seed)
        trainOptions.skipBad = source.skipBad
        testOptions.skipBad = source.skipBad
        train = try ClipLoader(clips: split.train, store: store, options: trainOptions, logger: logger)
        test = try ClipLoader(clips: split.test, store: store, options: testOptions, logger: logger)
    }

    public var trainBatchCount: Int { train.batchCount }
    public var testBatchCount: Int { test.batchCount }

    public func trainBatches(epoch: Int) throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.erase(train.batches(epoch: epoch))
    }

    public func testBatches() throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.erase(test.batches(epoch: 0))
    }

    public func trainBatches(epoch: Int, shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.erase(try train.batches(epoch: epoch, shard: shard))
    }

    public func testBatches(shard: ClipShard) throws -> AnyIterator<Result<ClipBatch, Error>> {
        Self.erase(try test.batches(epoch: 0, shard: shard))
    }

    private static func erase(_ sequence: ClipBatchSequence) -> AnyIterator<Result<ClipBatch, Error>> {
        AnyIterator { sequence.next().map { $0.mapError { $0 as Error } } }
    }
}
