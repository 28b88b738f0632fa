import Foundation
import Logging

/// A dataset decoded once by `ferd prepare`: every frame of every clip as S×S uint8 RGB in one
/// memory-mapped file (`frames.rgb`), with `index.json` listing the clips, their folds and a digest
/// of the inputs. Reading a frame is a pointer into the mapping; nothing is decoded at training time.
public final class PackedCache: Sendable {
    public let directory: String
    /// S: every frame is S×S×3 bytes.
    public let size: Int
    /// The dataset the cache was prepared from.
    public let dataRoot: String
    public let layout: DatasetLayout
    /// The SHA-256 of the inputs when the cache was prepared (see `DatasetDigest`).
    public let digest: String
    /// The cached clips, sorted by id.
    public let clips: [PackedClip]
    /// The clips left out by `--skip-bad`, and why.
    public let skipped: [PackedSkip]
    private let index: PackedCacheIndex
    private let frames: MappedFile
    private let positions: [String: Int]

    /// Opens the cache in `directory` (the `--out` of `ferd prepare`).
    public init(directory: String, logger: Logger = Logger(label: "ferd.data.cache")) throws {
        let indexPath = directory + "/" + PackedCacheIndex.indexFile
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            throw DataError(file: indexPath, problem: "no packed cache here (index.json is missing)",
                            fix: "run `ferd prepare --data <dataset> --out \(directory)` first")
        }
        let index: PackedCacheIndex
        do {
            index = try JSONDecoder().decode(PackedCacheIndex.self, from: data)
        } catch {
            throw DataError(file: indexPath, problem: "unreadable cache index (\(error))",
                            fix: "re-run `ferd prepare --out \(directory)` to rebuild the cache")
        }
        guard index.format == PackedCacheIndex.formatName, index.version == PackedCacheIndex.currentVersion,
              let layout = DatasetLayout(rawValue: index.layout) else {
            throw DataError(file: indexPath, problem: "cache format \(index.format) v\(index.version) is not supported",
                            fix: "re-run `ferd prepare --out \(directory)` with this version of ferd")
        }
        let frames = try MappedFile(path: directory + "/" + PackedCacheIndex.framesFile)
        let frameBytes = index.size * index.size * 3
        for clip in index.clips where clip.offset < 0 || clip.frameCount < 1
            || clip.offset + clip.frameCount * frameBytes > frames.count {
            throw DataError(file: frames.path, problem: "clip \(clip.id) lies outside the frames file (truncated cache?)",
                            fix: "re-run `ferd prepare --out \(directory)` to rebuild the cache")
        }
        self.directory = directory
        self.index = index
        self.frames = frames
        size = index.size
        dataRoot = index.dataRoot
        self.layout = layout
        digest = index.digest
        clips = index.clips
        skipped = index.skipped
        positions = Dictionary(index.clips.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        logger.info("opened packed cache", metadata: [
            "cache": "\(directory)", "clips": "\(clips.count)", "frames": "\(index.totalFrames)", "size": "\(size)",
        ])
    }

    /// The cached clip with this id.
    public func clip(id: String) -> PackedClip? {
        positions[id].map { clips[$0] }
    }

    /// Frame `frame` of `clip` as S×S×3 bytes; valid while the cache is alive.
    public func frame(_ frame: Int, of clip: PackedClip) -> UnsafeBufferPointer<UInt8> {
        precondition(frame >= 0 && frame < clip.frameCount, "frame \(frame) of clip \(clip.id) does not exist")
        let frameBytes = size * size * 3
        return frames.bytes(offset: clip.offset + frame * frameBytes, length: frameBytes)
    }

    /// The fold `number` (1…5) as clip records (frame paths point into `dataRoot`), or nil if the
    /// cache does not hold it.
    public func fold(_ number: Int) -> DatasetFold? {
        guard index.folds.contains(number) else { return nil }
        return DatasetFold(number: number,
                           train: clips.filter { $0.trainFolds.contains(number) }.map(record),
                           test: clips.filter { $0.testFolds.contains(number) }.map(record))
    }

    /// The clip record of a cached clip.
    public func record(_ clip: PackedClip) -> ClipRecord {
        let folder = clip.directory.hasPrefix("/") ? clip.directory : dataRoot + "/" + clip.directory
        let names = clip.frameNames.split(separator: "\n").map { folder + "/" + $0 }
        return ClipRecord(id: clip.id, directory: folder, frames: names, label: clip.label)
    }

    /// Throws if `dataset` (the dataset as it is now) differs from what the cache was prepared from.
    public func verify(against dataset: DatasetIndex) throws {
        let now = DatasetDigest.compute(clips: try dataset.distinctClips(), root: dataset.root, size: size)
        guard now == digest else {
            throw DataError(
                file: directory + "/" + PackedCacheIndex.indexFile,
                problem: "the dataset at \(dataset.root) changed since the cache was prepared (digest \(digest.prefix(12)) then, \(now.prefix(12)) now)",
                fix: "re-run `\(prepareCommand)`")
        }
    }

    /// Re-reads the dataset at `dataRoot` with the settings the cache was prepared with and verifies it.
    public func verifyDataset(logger: Logger = Logger(label: "ferd.data.cache")) throws {
        let options = DatasetLoadOptions(layout: layout, officialClips: index.officialClips, skipBad: index.skipBad,
                                         folds: index.folds)
        try verify(against: DatasetIndex.load(root: dataRoot, options: options, logger: logger))
    }

    /// The command that rebuilds this cache.
    public var prepareCommand: String {
        "ferd prepare --data \(dataRoot) --out \(directory) --size \(size) --layout \(layout.rawValue)"
            + (index.skipBad ? " --skip-bad" : "")
    }
}
