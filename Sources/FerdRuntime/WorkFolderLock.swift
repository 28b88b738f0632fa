import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Holds a worker's `--work` folder for the life of the process (an exclusive `flock` on `<folder>/.lock`), so
/// that a second worker started on the same folder stops with an error instead of writing into the same run
/// folders — two members of one gang run the same trial attempt and would overwrite each other's files.
public final class WorkFolderLock {
    private let descriptor: Int32

    /// Creates `folder` if needed and takes its lock; throws when another process holds it.
    public init(folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent(".lock").path
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw WorkFolderError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno == EWOULDBLOCK ? "another ferd worker is using \(folder.path)"
                                              : "cannot lock \(path): \(String(cString: strerror(errno)))"
            close(descriptor)
            throw WorkFolderError("\(reason); give each worker on this machine its own --work folder")
        }
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

/// Why a worker cannot use its `--work` folder.
public struct WorkFolderError: Error, CustomStringConvertible, Equatable {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
