import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The files of a packed cache being written: the frames go to a `.partial` file that is renamed
/// when complete, and the index is written last, so an interrupted run never leaves a cache that
/// looks valid.
struct CacheFiles {
    let directory: String
    var framesPath: String { directory + "/" + PackedCacheIndex.framesFile }
    var partialPath: String { framesPath + ".partial" }
    var indexPath: String { directory + "/" + PackedCacheIndex.indexFile }

    init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            if FileManager.default.fileExists(atPath: indexPath) {
                try FileManager.default.removeItem(atPath: indexPath)
            }
        } catch {
            throw DataError(file: directory, problem: "cannot create the cache folder (\(error))",
                            fix: "choose a writable --out folder")
        }
    }

    /// Creates the partial frames file with `bytes` bytes (sparse) and returns its descriptor.
    func createFrames(bytes: Int) throws -> Int32 {
        let fd = open(partialPath, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
        guard fd >= 0, ftruncate(fd, off_t(bytes)) == 0 else {
            if fd >= 0 { close(fd) }
            throw DataError(file: partialPath, problem: "cannot create the frames file (\(String(cString: strerror(errno))))",
                            fix: "check free disk space (\(bytes / 1_000_000) MB needed) and permissions")
        }
        return fd
    }

    func discardFrames() {
        unlink(partialPath)
    }

    func commitFrames() throws {
        guard rename(partialPath, framesPath) == 0 else {
            throw DataError(file: framesPath, problem: "cannot move the frames file into place (\(String(cString: strerror(errno))))",
                            fix: "check permissions on the cache folder")
        }
    }

    func writeIndex(_ index: PackedCacheIndex) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            let temporary = indexPath + ".partial"
            try encoder.encode(index).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, indexPath) == 0 else { throw CocoaError(.fileWriteUnknown) }
        } catch {
            throw DataError(file: indexPath, problem: "cannot write the cache index (\(error))",
                            fix: "check free disk space and permissions")
        }
    }

    /// Writes `bytes` at `offset` of the file `fd`; `path` names the frame in errors.
    static func write(_ bytes: [UInt8], to fd: Int32, at offset: Int, path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                guard n > 0 else {
                    throw DataError(file: path, problem: "cannot write the frame to the cache (\(String(cString: strerror(errno))))",
                                    fix: "check free disk space")
                }
                done += n
            }
        }
    }
}
