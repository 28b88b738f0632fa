import Foundation

/// One line of a split file: a clip, its label (0…6) and where it was listed.
struct SplitEntry: Sendable {
    var id: String
    /// The folder holding the clip's frames.
    var directory: String
    var label: Int
    var file: String
    var line: Int
    /// For a single-image clip (RAF-DB), its image in `directory`; nil: every frame in `directory`.
    var frame: String? = nil
}

/// The parsed lines of one split file; the bad lines are kept as errors so that `skipBad` can
/// report them.
struct ParsedSplit: Sendable {
    var entries: [SplitEntry] = []
    var problems: [(id: String, error: DataError)] = []
}

/// Readers for DFEW's split files: `video_name,label` CSVs (label 1…7) and the reference code's
/// `<clip path> <num_frames> <label 0-6>` lists.
enum SplitFiles {
    static func text(of file: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw DataError(file: file, problem: "split file is missing or unreadable",
                            fix: "check the dataset root, or pass the layout explicitly with --layout")
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
        return text
    }

    /// Lines (LF or CRLF) with their 1-based numbers, blank lines dropped.
    static func lines(_ text: String) -> [(number: Int, text: String)] {
        text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated().compactMap { index, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return line.isEmpty ? nil : (index + 1, line)
        }
    }

    /// A `video_name,label` CSV whose clip folders live in `clipRoot/<5-digit id>` (or the unpadded id).
    static func parseCSV(_ file: String, clipRoot: String) throws -> ParsedSplit {
        let rows = lines(try text(of: file))
        guard let header = rows.first else {
            throw DataError(file: file, line: 1, problem: "empty split file",
                            fix: "restore the file from the dataset release")
        }
        let columns = header.text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard columns == ["video_name", "label"] else {
            throw DataError(file: file, line: header.number,
                            problem: "expected the columns `video_name,label`, found `\(header.text)`",
                            fix: "use DFEW's single-label split CSVs (header `video_name,label`, label 1-7)")
        }
        var parsed = ParsedSplit()
        for row in rows.dropFirst() {
            let fields = row.text.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            let id = fields.first.flatMap { Int($0) }.map(SyntheticDataset.zeroPadded) ?? row.text
            guard fields.count == 2, let number = Int(fields[0]), number >= 0 else {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number, problem: "expected `<video number>,<label>`, found `\(row.text)`",
                    fix: "fix or delete this line")))
                continue
            }
            guard let label = Int(fields[1]), (1...7).contains(label) else {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number, problem: "label `\(fields[1])` is not in 1…7",
                    fix: "use DFEW labels 1 Happy … 7 Fear, or drop this clip")))
                continue
            }
            let padded = SyntheticDataset.zeroPadded(number)
            let paddedPath = clipRoot + "/" + padded, plainPath = clipRoot + "/" + String(number)
            let directory = FileManager.default.fileExists(atPath: paddedPath) || !FileManager.default
                .fileExists(atPath: plainPath) ? paddedPath : plainPath
            parsed.entries.append(SplitEntry(id: padded, directory: directory, label: label - 1, file: file,
                                             line: row.number))
        }
        return parsed
    }

    /// A `<clip path> <num_frames> <label 0-6>` list. Relative clip paths are resolved against `root`;
    /// an absolute path that does not exist is also tried relative to `root` from its `Clip/` or
    /// `data/` component on, so lists written on another machine work.
    static func parseList(_ file: String, root: String) throws -> ParsedSplit {
        var parsed = ParsedSplit()
        for row in lines(try text(of: file)) {
            let fields = row.text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            let id = fields.first.map { ($0 as NSString).lastPathComponent } ?? row.text
            guard fields.count == 3, Int(fields[1]) != nil else {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number, problem: "expected `<clip path> <num_frames> <label 0-6>`, found `\(row.text)`",
                    fix: "fix or delete this line")))
                continue
            }
            guard let label = Int(fields[2]), (0...6).contains(label) else {
                parsed.problems.append((id, DataError(
                    file: file, line: row.number, problem: "label `\(fields[2])` is not in 0…6",
                    fix: "list files use 0 Happy … 6 Fear; fix or drop this clip")))
                continue
            }
            parsed.entries.append(SplitEntry(id: id, directory: resolve(fields[0], root: root), label: label,
                                             file: file, line: row.number))
        }
        return parsed
    }

    private static func resolve(_ path: String, root: String) -> String {
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        guard trimmed.hasPrefix("/") else { return root + "/" + trimmed }
        if FileManager.default.fileExists(atPath: trimmed) { return trimmed }
        let parts = trimmed.split(separator: "/")
        if let anchor = parts.lastIndex(where: { $0 == "Clip" || $0 == "data" }) {
            let relative = root + "/" + parts[anchor...].joined(separator: "/")
            if FileManager.default.fileExists(atPath: relative) { return relative }
        }
        return trimmed
    }
}
