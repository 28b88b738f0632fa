import Foundation

/// A scratch folder for one test: made fresh under the temporary directory, filled with files by paths relative
/// to it, removed by ``remove()``.
struct TemporaryTree {
    let root: String

    init(prefix: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// Writes `text` to `relative` under the root, making the folders on the way.
    func write(_ relative: String, _ text: String = "") throws {
        let path = root + "/" + relative
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }
}
