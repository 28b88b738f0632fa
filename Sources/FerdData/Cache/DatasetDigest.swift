import FerdSystem
import FerdDigest
import Foundation

/// A cheap fingerprint of a dataset as a packed cache sees it: the SHA-256 over the working size and,
/// for every clip (sorted by folder), its folder, label, fold membership and each frame's file name,
/// size and modification time. Any added, removed, renamed, rewritten or relabelled frame or clip
/// changes it, without reading a single image.
public enum DatasetDigest {
    /// The digest of `clips` prepared at `size`.
    public static func compute(clips: [DatasetClip], root: String, size: Int) -> String {
        let perClip = Parallel.map(clips.count) { clipDigest(clips[$0], root: root) }
        var hash = SHA256()
        hash.update(field: "ferd-packed-cache v\(PackedCacheIndex.currentVersion) size \(size)")
        for digest in perClip { hash.update(field: digest) }
        return hash.hexDigest()
    }

    private static func clipDigest(_ clip: DatasetClip, root: String) -> String {
        var hash = SHA256()
        hash.update(field: clip.record.id)
        hash.update(field: relativePath(clip.record.directory, root: root))
        hash.update(field: "label \(clip.record.label) train \(clip.trainFolds) test \(clip.testFolds)")
        var fields = ""
        for path in clip.record.frames {
            let (bytes, modified) = fileStamp(path)
            fields += "\((path as NSString).lastPathComponent)\u{0}\(bytes)\u{0}\(modified)\u{0}"
        }
        hash.update(fields.utf8)
        return hash.hexDigest()
    }

    /// Size in bytes and modification time in nanoseconds, or (−1, −1) when the file is missing.
    static func fileStamp(_ path: String) -> (Int, Int) {
        var info = stat()
        guard stat(path, &info) == 0 else { return (-1, -1) }
        #if os(Linux)
        let modified = Int(info.st_mtim.tv_sec) * 1_000_000_000 + Int(info.st_mtim.tv_nsec)
        #else
        let modified = Int(info.st_mtimespec.tv_sec) * 1_000_000_000 + Int(info.st_mtimespec.tv_nsec)
        #endif
        return (Int(info.st_size), modified)
    }

    /// `path` relative to `root` when it lies inside it, else `path`.
    static func relativePath(_ path: String, root: String) -> String {
        path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
    }
}

/// A clip of a dataset with every fold it belongs to (a clip is in the train split of several folds).
public struct DatasetClip: Sendable, Equatable {
    public var record: ClipRecord
    public var trainFolds: [Int]
    public var testFolds: [Int]

    public init(record: ClipRecord, trainFolds: [Int], testFolds: [Int]) {
        self.record = record
        self.trainFolds = trainFolds
        self.testFolds = testFolds
    }
}

extension DatasetIndex {
    /// Every distinct clip of the loaded folds (by folder and first frame: RAF-DB's images share a folder), sorted by
    /// id then folder, with its folds. Throws if two different folders share a clip id.
    public func distinctClips() throws -> [DatasetClip] {
        var byKey = [String: DatasetClip]()
        for fold in folds {
            for (records, isTrain) in [(fold.train, true), (fold.test, false)] {
                for record in records {
                    let key = record.directory + "\u{0}" + (record.frames.first ?? "")
                    var clip = byKey[key] ?? DatasetClip(record: record, trainFolds: [], testFolds: [])
                    if isTrain { clip.trainFolds.append(fold.number) } else { clip.testFolds.append(fold.number) }
                    byKey[key] = clip
                }
            }
        }
        let clips = byKey.values.sorted { ($0.record.id, $0.record.directory) < ($1.record.id, $1.record.directory) }
        for (a, b) in zip(clips, clips.dropFirst()) where a.record.id == b.record.id {
            throw DataError(file: b.record.directory,
                            problem: "clip id \(a.record.id) names two folders (\(a.record.directory) and \(b.record.directory))",
                            fix: "rename one of the folders so that clip ids are unique")
        }
        return clips
    }
}
