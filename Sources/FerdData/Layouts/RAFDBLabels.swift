import Foundation

/// RAF-DB basic's label file (Li, Deng, Du, CVPR 2017): `basic/EmoLabel/list_patition_label.txt` (sic), one image a
/// line, `train_00001.jpg 5`; the name's prefix (`train_`, `test_`) is the split, the aligned 100×100 face is
/// `basic/Image/aligned/<stem>_aligned.jpg`. Each image is a clip of one frame.
enum RAFDBLabels {
    static let labelFile = "EmoLabel/list_patition_label.txt"
    static let imageFolder = "Image/aligned"
    /// RAF-DB's labels 1…7, by name; they are mapped onto ferd's classes by name (`Emotion(name:)`).
    static let names = ["Surprise", "Fear", "Disgust", "Happiness", "Sadness", "Anger", "Neutral"]

    /// Ferd's class for RAF-DB label `label` (1…7), matched by name, or nil when out of range.
    static func emotion(rafLabel label: Int) -> Emotion? {
        names.indices.contains(label - 1) ? Emotion(name: names[label - 1]) : nil
    }

    /// RAF-DB's label (1…7) of ferd's class `emotion`.
    static func rafLabel(_ emotion: Emotion) -> Int {
        names.firstIndex { Emotion(name: $0) == emotion }! + 1
    }

    /// The `basic` folder: `root/basic`, or `root` itself when it holds `EmoLabel/`.
    static func basicFolder(root: String) -> String? {
        [root + "/basic", root].first { FileManager.default.fileExists(atPath: $0 + "/" + labelFile) }
    }

    /// The train and test images listed in the label file `file`; images live in `basic/Image/aligned`.
    static func parse(_ file: String, basic: String) throws -> (train: ParsedSplit, test: ParsedSplit) {
        var train = ParsedSplit(), test = ParsedSplit()
        let images = basic + "/" + imageFolder
        let mapping = zip(1..., names).map { "\($0) \($1)" }.joined(separator: ", ")
        for row in SplitFiles.lines(try SplitFiles.text(of: file)) {
            let fields = row.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let name = fields.first ?? row.text
            let stem = (name as NSString).deletingPathExtension
            let isTrain = stem.hasPrefix("train_"), isTest = stem.hasPrefix("test_")
            guard fields.count == 2, isTrain || isTest, stem != name else {
                let problem = (stem, DataError(
                    file: file, line: row.number, problem: "expected `<train_|test_><number>.jpg <label 1-7>`, found `\(row.text)`",
                    fix: "fix or delete this line"))
                if isTest { test.problems.append(problem) } else { train.problems.append(problem) }
                continue
            }
            guard let label = Int(fields[1]), let emotion = emotion(rafLabel: label) else {
                let problem = (stem, DataError(file: file, line: row.number, problem: "label `\(fields[1])` is not in 1…7",
                                               fix: "RAF-DB labels are \(mapping); fix or drop this line"))
                if isTrain { train.problems.append(problem) } else { test.problems.append(problem) }
                continue
            }
            let entry = SplitEntry(id: stem, directory: images, label: emotion.rawValue, file: file, line: row.number,
                                   frame: images + "/" + stem + "_aligned.jpg")
            if isTrain { train.entries.append(entry) } else { test.entries.append(entry) }
        }
        return (train, test)
    }
}
