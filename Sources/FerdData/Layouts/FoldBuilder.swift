import Foundation

/// Turns the parsed train and test lists of each fold into clip records, checking every clip.
/// With `skipBad` a bad clip is recorded in `skipped`; otherwise its problem is thrown.
struct FoldBuilder {
    let skipBad: Bool
    private(set) var skipped: [SkippedClip] = []
    private var frameCache: [String: [String]?] = [:]

    init(skipBad: Bool) {
        self.skipBad = skipBad
    }

    mutating func fold(_ number: Int, train: ParsedSplit, test: ParsedSplit) throws -> DatasetFold {
        let testEntries = try unique(test, fold: number, split: "test")
        let testByID = Dictionary(testEntries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var trainEntries = [SplitEntry]()
        for entry in try unique(train, fold: number, split: "train") {
            if let other = testByID[entry.id] {
                try report(entry.id, number, "train", DataError(
                    file: entry.file, line: entry.line,
                    problem: "clip \(entry.id) is also in the test split (\(other.file):\(other.line))",
                    fix: "remove it from one of the two files; with --skip-bad it is dropped from train"))
            } else {
                trainEntries.append(entry)
            }
        }
        return DatasetFold(number: number, train: try records(trainEntries, fold: number, split: "train"),
                           test: try records(testEntries, fold: number, split: "test"))
    }

    private mutating func unique(_ parsed: ParsedSplit, fold: Int, split: String) throws -> [SplitEntry] {
        for problem in parsed.problems {
            try report(problem.id, fold, split, problem.error)
        }
        var seen = [String: SplitEntry]()
        var result = [SplitEntry]()
        for entry in parsed.entries {
            if let first = seen[entry.id] {
                try report(entry.id, fold, split, DataError(
                    file: entry.file, line: entry.line,
                    problem: "clip \(entry.id) is listed twice (first on line \(first.line))",
                    fix: "delete the duplicate line"))
                continue
            }
            seen[entry.id] = entry
            result.append(entry)
        }
        return result
    }

    private mutating func records(_ entries: [SplitEntry], fold: Int, split: String) throws -> [ClipRecord] {
        var result = [ClipRecord]()
        for entry in entries {
            if let image = entry.frame {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: image, isDirectory: &isDirectory), !isDirectory.boolValue else {
                    try report(entry.id, fold, split, DataError(
                        file: entry.file, line: entry.line, problem: "image \(image) does not exist",
                        fix: "extract the aligned faces (basic/Image/aligned) there, or run with --skip-bad to leave it out"))
                    continue
                }
                result.append(ClipRecord(id: entry.id, directory: entry.directory, frames: [image], label: entry.label))
                continue
            }
            let frames: [String]?
            if let cached = frameCache[entry.directory] {
                frames = cached
            } else {
                frames = FrameListing.frames(in: entry.directory)
                frameCache[entry.directory] = frames
            }
            guard let frames else {
                try report(entry.id, fold, split, DataError(
                    file: entry.file, line: entry.line, problem: "clip folder \(entry.directory) does not exist",
                    fix: "extract the clip's frames there, or run with --skip-bad to leave it out"))
                continue
            }
            guard !frames.isEmpty else {
                try report(entry.id, fold, split, DataError(
                    file: entry.file, line: entry.line, problem: "clip folder \(entry.directory) has no .jpg frames",
                    fix: "re-extract the clip's frames, or run with --skip-bad to leave it out"))
                continue
            }
            result.append(ClipRecord(id: entry.id, directory: entry.directory, frames: frames, label: entry.label))
        }
        return result
    }

    private mutating func report(_ id: String, _ fold: Int, _ split: String, _ error: DataError) throws {
        guard skipBad else { throw error }
        skipped.append(SkippedClip(id: id, fold: fold, split: split, reason: error))
    }
}
