import Foundation
import Logging

/// The three ways DFEW is found on disk.
public enum DatasetLayout: String, Sendable, CaseIterable {
    /// The official release: `Clip/clip_224x224/<id>/*.jpg` (or `clip_224x224_16f`, `original`) with
    /// `EmoLabel_DataSplit/{train,test}(single-labeled)/set_{1..5}.csv`.
    case official
    /// The authors' re-organised copy: `data/<id>/<id>_<frame>.jpg` with
    /// `label/single_{train,test}set_{1..5}.csv`.
    case reorganised
    /// The reference training code's lists `set_{1..5}_{train,test}.txt` (in the root or in
    /// `annotation/`), lines `<clip path> <num_frames> <label 0-6>`.
    case lists

    /// The layout of the dataset in `root`, judged from the folders and files present.
    public static func detect(root: String) throws -> DatasetLayout {
        let fm = FileManager.default
        if fm.fileExists(atPath: root + "/EmoLabel_DataSplit"), fm.fileExists(atPath: root + "/Clip") {
            return .official
        }
        if fm.fileExists(atPath: root + "/label/single_trainset_1.csv"), fm.fileExists(atPath: root + "/data") {
            return .reorganised
        }
        if listFolder(root: root) != nil { return .lists }
        throw DataError(
            file: root,
            problem: "no DFEW layout recognised (looked for Clip/ + EmoLabel_DataSplit/, data/ + label/single_trainset_1.csv, and set_1_train.txt in the folder or in annotation/)",
            fix: "point at the dataset root, or name the layout with --layout official|reorganised|lists")
    }

    static func listFolder(root: String) -> String? {
        [root, root + "/annotation"].first { FileManager.default.fileExists(atPath: $0 + "/set_1_train.txt") }
    }
}

/// How to read a dataset folder.
public struct DatasetLoadOptions: Sendable {
    /// Nil: detect the layout.
    public var layout: DatasetLayout?
    /// For the official layout, the folder under `Clip/`; nil picks `clip_224x224`, then
    /// `clip_224x224_16f`, then `original`.
    public var officialClips: String?
    /// Skip bad clips (missing or empty folder, bad line, label out of range, listed twice, in both
    /// train and test) and report them in `DatasetIndex.skipped`, instead of throwing.
    public var skipBad: Bool
    /// The folds to load (1…5).
    public var folds: [Int]

    public init(layout: DatasetLayout? = nil, officialClips: String? = nil, skipBad: Bool = false,
                folds: [Int] = Array(1...5)) {
        self.layout = layout
        self.officialClips = officialClips
        self.skipBad = skipBad
        self.folds = folds
    }
}

extension DatasetIndex {
    /// Reads the split files of the dataset at `root` and lists every clip's frames.
    public static func load(root: String, options: DatasetLoadOptions = DatasetLoadOptions(),
                            logger: Logger = Logger(label: "ferd.data.layout")) throws -> DatasetIndex {
        let root = root.hasSuffix("/") && root.count > 1 ? String(root.dropLast()) : root
        let layout = try options.layout ?? DatasetLayout.detect(root: root)
        let files = try splitFiles(layout: layout, root: root, options: options)
        var builder = FoldBuilder(skipBad: options.skipBad)
        var folds = [DatasetFold]()
        for fold in options.folds {
            guard let (train, test) = files[fold] else { continue }
            let parse = { (file: String) -> ParsedSplit in
                switch layout {
                case .lists: try SplitFiles.parseList(file, root: root)
                default: try SplitFiles.parseCSV(file, clipRoot: files.clipRoot)
                }
            }
            folds.append(try builder.fold(fold, train: parse(train), test: parse(test)))
        }
        for skipped in builder.skipped {
            logger.warning("skipped clip", metadata: ["clip": "\(skipped.id)", "fold": "\(skipped.fold)",
                                                      "split": "\(skipped.split)", "reason": "\(skipped.reason)"])
        }
        logger.info("loaded dataset index", metadata: [
            "root": "\(root)", "layout": "\(layout.rawValue)", "folds": "\(folds.count)",
            "skipped": "\(builder.skipped.count)",
        ])
        return DatasetIndex(root: root, layout: layout, folds: folds, skipped: builder.skipped)
    }

    private struct FileSet {
        var clipRoot: String
        var byFold: [Int: (train: String, test: String)]
        subscript(fold: Int) -> (String, String)? { byFold[fold] }
    }

    private static func splitFiles(layout: DatasetLayout, root: String, options: DatasetLoadOptions) throws -> FileSet {
        var byFold = [Int: (train: String, test: String)]()
        for fold in options.folds {
            guard (1...5).contains(fold) else {
                throw DataError(file: root, problem: "fold \(fold) does not exist", fix: "choose folds 1…5")
            }
        }
        switch layout {
        case .official:
            let split = root + "/EmoLabel_DataSplit"
            for fold in options.folds {
                byFold[fold] = (split + "/train(single-labeled)/set_\(fold).csv",
                                split + "/test(single-labeled)/set_\(fold).csv")
            }
            return FileSet(clipRoot: try officialClipRoot(root: root, preferred: options.officialClips), byFold: byFold)
        case .reorganised:
            for fold in options.folds {
                byFold[fold] = (root + "/label/single_trainset_\(fold).csv", root + "/label/single_testset_\(fold).csv")
            }
            return FileSet(clipRoot: root + "/data", byFold: byFold)
        case .lists:
            let folder = DatasetLayout.listFolder(root: root) ?? root
            for fold in options.folds {
                byFold[fold] = (folder + "/set_\(fold)_train.txt", folder + "/set_\(fold)_test.txt")
            }
            return FileSet(clipRoot: root, byFold: byFold)
        }
    }

    private static func officialClipRoot(root: String, preferred: String?) throws -> String {
        let candidates = preferred.map { [$0] } ?? ["clip_224x224", "clip_224x224_16f", "original"]
        for name in candidates where FileManager.default.fileExists(atPath: root + "/Clip/" + name) {
            return root + "/Clip/" + name
        }
        throw DataError(file: root + "/Clip", problem: "none of the frame folders \(candidates.joined(separator: ", ")) exists",
                        fix: "extract the frame archive into Clip/, or name the folder with --official-clips")
    }
}
