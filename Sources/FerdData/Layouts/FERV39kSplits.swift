import Foundation

/// FERV39k's split files (Wang et al., CVPR 2022): `4_setups/All_scenes/{train_All,test_All}.csv`, one clip a line,
/// `Action/Sad/0010 Sad`, frames in `2_ClipsforFaceCrop/<Scene>/<Emotion>/<clip>/`.
///
/// The line format is an assumption (taken from third-party descriptions, not the release), so the parser is
/// tolerant: fields separated by commas, semicolons, spaces or tabs; an optional header line (a first line whose
/// first field has no `/`); the class as a name (`Sad`), or left out (taken from the `<Emotion>` folder), or a
/// Former-DFER list line `<clip path> <num_frames> <label 0-6>`. Only the last three components of the clip path
/// count (`/data/FERV39k/2_ClipsforFaceCrop/Action/Sad/0010` is `Action/Sad/0010`), which is also the clip's id.
enum FERV39kSplits {
    static let framesFolder = "2_ClipsforFaceCrop"
    static let setupFolder = "4_setups/All_scenes"

    /// The train and test split files of the dataset at `root`.
    static func files(root: String) -> (train: String, test: String) {
        (root + "/" + setupFolder + "/train_All.csv", root + "/" + setupFolder + "/test_All.csv")
    }

    static func parse(_ file: String, root: String) throws -> ParsedSplit {
        var parsed = ParsedSplit()
        for (position, row) in SplitFiles.lines(try SplitFiles.text(of: file)).enumerated() {
            let fields = row.text.split(whereSeparator: { ",; \t".contains($0) }).map(String.init)
            if position == 0, let first = fields.first, !first.contains("/") { continue }
            let parts = fields.first?.split(separator: "/").map(String.init) ?? []
            let id = parts.count >= 3 ? parts.suffix(3).joined(separator: "/") : row.text
            guard (1...3).contains(fields.count), parts.count >= 3 else {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number,
                    problem: "expected `<Scene>/<Emotion>/<clip> <Emotion>` (or `<clip path> <num_frames> <label 0-6>`), found `\(row.text)`",
                    fix: "fix or delete this line")))
                continue
            }
            let folder = parts[parts.count - 2]
            let label: Emotion
            switch classOf(fields, folder: folder) {
            case .success(let emotion): label = emotion
            case .failure(let problem):
                parsed.problems.append((id, DataError(file: file, line: row.number, problem: problem.problem, fix: problem.fix)))
                continue
            }
            if let named = Emotion(name: folder), named != label {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number,
                    problem: "the class \(label) disagrees with the clip's folder `\(folder)`",
                    fix: "correct the class or the path, or drop this line")))
                continue
            }
            parsed.entries.append(SplitEntry(id: id, directory: root + "/" + framesFolder + "/" + id, label: label.rawValue,
                                             file: file, line: row.number))
        }
        return parsed
    }

    private struct Problem: Error {
        var problem: String
        var fix: String
    }

    /// The class of a line: the named one, the Former-DFER list's 0…6 index, or the `<Emotion>` folder's.
    private static func classOf(_ fields: [String], folder: String) -> Result<Emotion, Problem> {
        let names = "use one of \(Emotion.namesInOrder), or drop this line"
        switch fields.count {
        case 1:
            return Emotion(name: folder).map(Result.success)
                ?? .failure(Problem(problem: "unknown class name `\(folder)` in the clip path and no class given", fix: names))
        case 2:
            return Emotion(name: fields[1]).map(Result.success)
                ?? .failure(Problem(problem: "unknown class name `\(fields[1])`", fix: names))
        default:
            if let named = Emotion(name: fields[2]) { return .success(named) }
            guard Int(fields[1]) != nil, let index = Int(fields[2]), let emotion = Emotion(rawValue: index) else {
                return .failure(Problem(
                    problem: "expected `<clip path> <num_frames> <label 0-6>` or a class name, found `\(fields.joined(separator: " "))`",
                    fix: "list lines use 0 Happy … 6 Fear; fix or drop this line"))
            }
            return .success(emotion)
        }
    }
}
