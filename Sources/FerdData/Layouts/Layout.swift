import Foundation
import Logging

/// The ways a dataset is found on disk: DFEW's three layouts (5 folds), FERV39k's release and RAF-DB's basic set
/// (one train/test split each, called fold 1).
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
    /// FERV39k (Wang et al., CVPR 2022): `2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/*.jpg` with one split,
    /// `4_setups/All_scenes/{train_All,test_All}.csv` (see `FERV39kSplits`).
    case ferv39k
    /// RAF-DB basic (Li, Deng, Du, CVPR 2017): aligned faces `basic/Image/aligned/<name>_aligned.jpg` as 1-frame
    /// clips, split and labels in `basic/EmoLabel/list_patition_label.txt` (see `RAFDBLabels`).
    case rafdb

    /// The dataset the layout holds: DFEW, FERV39k or RAF-DB.
    public var datasetName: String {
        switch self {
        case .official, .reorganised, .lists: "DFEW"
        case .ferv39k: "FERV39k"
        case .rafdb: "RAF-DB"
        }
    }

    /// Whether the layout holds DFEW.
    public var isDFEW: Bool { datasetName == "DFEW" }

    /// The folds the dataset has: DFEW's 5 cross-validation folds, or the single train/test split as fold 1.
    public var folds: [Int] {
        switch self {
        case .official, .reorganised, .lists: Array(1...5)
        case .ferv39k, .rafdb: [1]
        }
    }

    /// V, the consecutive frames per segment the dataset is sampled with: 2 for FERV39k (Former-DFER's 8×2),
    /// else 1 (DFEW's 16×1; RAF-DB's single frame).
    public var framesPerSegment: Int { self == .ferv39k ? 2 : 1 }

    /// The sampler for a model that takes `frames` = T frames: U = T / V segments of V frames, where V is
    /// `requested` when a trial's settings ask for more than 1 (Former-DFER's and STT's 8×2), else the dataset's
    /// `framesPerSegment` (V = 1 when T is not a multiple of it). The reference quirks reproduce DFEW's reference code and apply to the
    /// DFEW layouts only (with them, RAF-DB's 1-frame clips would all be dropped).
    public func sampler(frames: Int, referenceQuirks: Bool, framesPerSegment requested: Int = 1) -> ClipSampler {
        let wanted = requested > 1 ? requested : framesPerSegment
        let perSegment = frames % wanted == 0 ? wanted : 1
        return ClipSampler(segments: frames / perSegment, framesPerSegment: perSegment,
                           referenceQuirks: referenceQuirks && isDFEW)
    }

    /// Throws unless every fold in `requested` exists in this layout's dataset.
    public func checkFolds(_ requested: [Int], root: String) throws {
        for fold in requested where !folds.contains(fold) {
            let problem = folds.count == 1
                ? "fold \(fold) does not exist: \(datasetName) has one train/test split, fold 1"
                : "fold \(fold) does not exist"
            let fix = folds.count == 1 ? "use fold 1 (`--fold 1`, or `folds: [1]` in an experiment)" : "choose folds 1…5"
            throw DataError(file: root, problem: problem, fix: fix)
        }
    }

    /// The layout of the dataset in `root`, judged from the folders and files present.
    public static func detect(root: String) throws -> DatasetLayout {
        let fm = FileManager.default
        if fm.fileExists(atPath: root + "/EmoLabel_DataSplit"), fm.fileExists(atPath: root + "/Clip") {
            return .official
        }
        if fm.fileExists(atPath: root + "/label/single_trainset_1.csv"), fm.fileExists(atPath: root + "/data") {
            return .reorganised
        }
        if fm.fileExists(atPath: root + "/" + FERV39kSplits.framesFolder) { return .ferv39k }
        if RAFDBLabels.basicFolder(root: root) != nil { return .rafdb }
        if listFolder(root: root) != nil { return .lists }
        throw DataError(
            file: root,
            problem: "no dataset layout recognised (looked for Clip/ + EmoLabel_DataSplit/, data/ + label/single_trainset_1.csv, 2_ClipsforFaceCrop/, basic/EmoLabel/list_patition_label.txt, and set_1_train.txt in the folder or in annotation/)",
            fix: "point at the dataset root, or name the layout with --layout \(allCases.map(\.rawValue).joined(separator: "|"))")
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
    /// The folds to load (DFEW 1…5; FERV39k and RAF-DB 1); nil: every fold of the layout.
    public var folds: [Int]?

    public init(layout: DatasetLayout? = nil, officialClips: String? = nil, skipBad: Bool = false,
                folds: [Int]? = nil) {
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
        let requested = options.folds ?? layout.folds
        try layout.checkFolds(requested, root: root)
        let read = try splitReader(layout: layout, root: root, options: options)
        var builder = FoldBuilder(skipBad: options.skipBad)
        var folds = [DatasetFold]()
        for fold in requested {
            let (train, test) = try read(fold)
            folds.append(try builder.fold(fold, train: train, test: test))
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

    /// Reads the parsed train and test lists of a fold.
    private typealias SplitReader = (Int) throws -> (ParsedSplit, ParsedSplit)

    private static func splitReader(layout: DatasetLayout, root: String, options: DatasetLoadOptions) throws -> SplitReader {
        switch layout {
        case .official:
            let split = root + "/EmoLabel_DataSplit"
            let clipRoot = try officialClipRoot(root: root, preferred: options.officialClips)
            return { fold in
                (try SplitFiles.parseCSV(split + "/train(single-labeled)/set_\(fold).csv", clipRoot: clipRoot),
                 try SplitFiles.parseCSV(split + "/test(single-labeled)/set_\(fold).csv", clipRoot: clipRoot))
            }
        case .reorganised:
            return { fold in
                (try SplitFiles.parseCSV(root + "/label/single_trainset_\(fold).csv", clipRoot: root + "/data"),
                 try SplitFiles.parseCSV(root + "/label/single_testset_\(fold).csv", clipRoot: root + "/data"))
            }
        case .lists:
            let folder = DatasetLayout.listFolder(root: root) ?? root
            return { fold in
                (try SplitFiles.parseList(folder + "/set_\(fold)_train.txt", root: root),
                 try SplitFiles.parseList(folder + "/set_\(fold)_test.txt", root: root))
            }
        case .ferv39k:
            let files = FERV39kSplits.files(root: root)
            return { _ in
                (try FERV39kSplits.parse(files.train, root: root), try FERV39kSplits.parse(files.test, root: root))
            }
        case .rafdb:
            let basic = RAFDBLabels.basicFolder(root: root) ?? root + "/basic"
            return { _ in try RAFDBLabels.parse(basic + "/" + RAFDBLabels.labelFile, basic: basic) }
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
