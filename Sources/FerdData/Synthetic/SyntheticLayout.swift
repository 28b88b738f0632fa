import Foundation

/// The dataset layout `ferd synth` writes: DFEW's re-organised copy (5 folds), FERV39k's release or RAF-DB's basic
/// set (one train/test split each: the clips of the first stratified test fold, about 20 %, are the test split).
public enum SyntheticLayout: String, Sendable, CaseIterable {
    /// `data/<id>/<id>_<frame>.jpg` and `label/single_{train,test}set_{1..5}.csv`.
    case dfew
    /// `2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/<frame>.jpg` and
    /// `4_setups/All_scenes/{train_All,test_All}.csv` (lines `Action/Sad/0010 Sad`).
    case ferv39k
    /// `basic/Image/aligned/<train_|test_><number>_aligned.jpg` (each clip one image) and
    /// `basic/EmoLabel/list_patition_label.txt` (lines `train_00001.jpg 5`, RAF-DB's labels).
    case rafdb

    /// The layout `DatasetIndex.load` reads the written dataset as.
    public var datasetLayout: DatasetLayout {
        switch self {
        case .dfew: .reorganised
        case .ferv39k: .ferv39k
        case .rafdb: .rafdb
        }
    }

    /// The scene folders synthetic FERV39k clips are spread over, round-robin (three of FERV39k's 22 scenes).
    static let ferv39kScenes = ["Action", "Argue", "War"]
}

/// Where `SyntheticDataset.write` puts every clip and what its split files say.
struct SyntheticPlan {
    /// The top-level entries the layout writes; the output folder must not hold any of them.
    var roots: [String]
    /// Per clip k: its id as `DatasetIndex.load` reads it back.
    var ids: [String]
    /// Per clip k: its folder, relative to the output folder.
    var folders: [String]
    /// Per clip k: its frame file names in playback order (one image for RAF-DB).
    var frameNames: [[String]]
    /// The split files: relative path and contents.
    var splitFiles: [(path: String, text: String)]
}

extension SyntheticDataset {
    /// The files of the dataset in `layout`.
    func plan(_ layout: SyntheticLayout) -> SyntheticPlan {
        switch layout {
        case .dfew: dfewPlan()
        case .ferv39k: ferv39kPlan()
        case .rafdb: rafdbPlan()
        }
    }

    private func dfewPlan() -> SyntheticPlan {
        let names = (0..<clips).map(Self.clipName)
        var files = [(path: String, text: String)]()
        let labels = (0..<clips).map { emotion(ofClip: $0).dfewLabel }
        for (index, test) in testFolds().enumerated() {
            let inTest = Set(test)
            let train = (0..<clips).filter { !inTest.contains($0) }
            for (kind, members) in [("train", train), ("test", test)] {
                let rows = members.map { "\($0 + 1),\(labels[$0])\n" }.joined()
                files.append(("label/single_\(kind)set_\(index + 1).csv", "video_name,label\n" + rows))
            }
        }
        return SyntheticPlan(
            roots: ["data", "label"], ids: names, folders: names.map { "data/" + $0 },
            frameNames: (0..<clips).map { k in (1...frameCount(ofClip: k)).map { "\(names[k])_\(Self.zeroPadded($0)).jpg" } },
            splitFiles: files)
    }

    private func ferv39kPlan() -> SyntheticPlan {
        var counters = [String: Int]()
        let ids = (0..<clips).map { k in
            let folder = SyntheticLayout.ferv39kScenes[k % SyntheticLayout.ferv39kScenes.count] + "/"
                + emotion(ofClip: k).description
            counters[folder, default: 0] += 1
            return folder + "/" + Self.padded(counters[folder]!, digits: 4)
        }
        let inTest = Set(testFolds()[0])
        var train = "", test = ""
        for k in 0..<clips {
            let line = "\(ids[k]) \(emotion(ofClip: k))\n"
            if inTest.contains(k) { test += line } else { train += line }
        }
        let setup = FERV39kSplits.setupFolder
        return SyntheticPlan(
            roots: [FERV39kSplits.framesFolder, "4_setups"], ids: ids,
            folders: ids.map { FERV39kSplits.framesFolder + "/" + $0 },
            frameNames: (0..<clips).map { k in (1...frameCount(ofClip: k)).map { Self.padded($0, digits: 4) + ".jpg" } },
            splitFiles: [(setup + "/train_All.csv", train), (setup + "/test_All.csv", test)])
    }

    private func rafdbPlan() -> SyntheticPlan {
        let inTest = Set(testFolds()[0])
        var trainCount = 0, testCount = 0
        let ids = (0..<clips).map { k in
            if inTest.contains(k) {
                testCount += 1
                return "test_" + Self.padded(testCount, digits: 4)
            }
            trainCount += 1
            return "train_" + Self.padded(trainCount, digits: 5)
        }
        let lines = (0..<clips).map { "\(ids[$0]).jpg \(RAFDBLabels.rafLabel(emotion(ofClip: $0)))\n" }
        let trainLines = zip(ids, lines).filter { $0.0.hasPrefix("train_") }.map(\.1)
        let testLines = zip(ids, lines).filter { $0.0.hasPrefix("test_") }.map(\.1)
        return SyntheticPlan(
            roots: ["basic"], ids: ids, folders: ids.map { _ in "basic/" + RAFDBLabels.imageFolder },
            frameNames: ids.map { [$0 + "_aligned.jpg"] },
            splitFiles: [("basic/" + RAFDBLabels.labelFile, (trainLines + testLines).joined())])
    }

    static func padded(_ value: Int, digits: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }
}
