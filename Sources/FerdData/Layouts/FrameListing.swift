import Foundation

/// Lists a clip folder's frames in playback order.
enum FrameListing {
    /// The `.jpg`/`.jpeg` files in `directory`, sorted by the last number in the name
    /// (`2.jpg` < `10.jpg`, `00001_00002.jpg` < `00001_00010.jpg`), then by name.
    /// Nil if the folder does not exist.
    static func frames(in directory: String) -> [String]? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue,
              let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return nil }
        let images = names.filter {
            let lower = $0.lowercased()
            return lower.hasSuffix(".jpg") || lower.hasSuffix(".jpeg")
        }
        return images
            .map { (number: frameNumber($0), name: $0) }
            .sorted { ($0.number, $0.name) < ($1.number, $1.name) }
            .map { directory + "/" + $0.name }
    }

    /// The last run of digits in `name` (without extension), or -1 if there is none.
    static func frameNumber(_ name: String) -> Int {
        let stem = name.split(separator: ".").first ?? Substring(name)
        let runs = stem.split { !($0.isASCII && $0.isNumber) }
        return runs.last.flatMap { Int($0.suffix(18)) } ?? -1
    }
}
