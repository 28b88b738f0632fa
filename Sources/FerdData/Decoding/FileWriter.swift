import Foundation

/// Writes whole files with plain POSIX calls: Foundation's `Data.write` syncs every file to disk,
/// which made writing thousands of small frames about 2× slower overall.
enum FileWriter {
    static func write(_ bytes: [UInt8], to path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw failure(path, "cannot create the file") }
        defer { close(descriptor) }
        var written = 0
        while written < bytes.count {
            let result = bytes.withUnsafeBytes { raw in
                Foundation.write(descriptor, raw.baseAddress! + written, raw.count - written)
            }
            if result < 0 {
                if errno == EINTR { continue }
                throw failure(path, "cannot write the file")
            }
            written += result
        }
    }

    private static func failure(_ path: String, _ problem: String) -> DataError {
        DataError(file: path, problem: "\(problem) (\(String(cString: strerror(errno))))",
                  fix: "check free disk space and write permission for the output folder")
    }
}
