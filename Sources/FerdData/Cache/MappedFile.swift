import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A read-only memory-mapped file; the mapping lives as long as the object.
final class MappedFile: @unchecked Sendable {
    let path: String
    let count: Int
    private let base: UnsafeRawPointer?

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw DataError(file: path, problem: "cannot open the cache's frames file (\(String(cString: strerror(errno))))",
                            fix: "re-run ferd prepare to rebuild the cache")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw DataError(file: path, problem: "cannot stat the cache's frames file", fix: "re-run ferd prepare")
        }
        count = Int(info.st_size)
        guard count > 0 else {
            base = nil
            return
        }
        let mapped = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0)
        guard let mapped, mapped != MAP_FAILED else {
            throw DataError(file: path, problem: "cannot memory-map the cache's frames file (\(String(cString: strerror(errno))))",
                            fix: "check free address space and permissions, or re-run ferd prepare")
        }
        base = UnsafeRawPointer(mapped)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
    }

    /// The bytes `offset..<offset + length`; the caller keeps the file alive while using them.
    func bytes(offset: Int, length: Int) -> UnsafeBufferPointer<UInt8> {
        precondition(offset >= 0 && length >= 0 && offset + length <= count, "read past the end of \(path)")
        guard let base else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: (base + offset).assumingMemoryBound(to: UInt8.self), count: length)
    }
}
