import CTurboJPEG
import Foundation

/// Decodes JPEG bytes to `RGBImage` with libjpeg-turbo (accurate integer DCT and fancy upsampling,
/// the same defaults PIL uses). A frame is either decoded completely or rejected: libjpeg's warnings
/// (a truncated file, a premature end of a data segment, a bad marker) are errors, because the image it
/// would return is partly grey. One decoder per thread; it reuses its TurboJPEG handle, and replaces it
/// after a failure (libjpeg-turbo 2.1 leaves a handle whose header could not be read unusable).
public final class JPEGDecoder {
    private var handle: tjhandle

    public init() {
        handle = Self.makeHandle()
    }

    deinit { tjDestroy(handle) }

    private static func makeHandle() -> tjhandle {
        guard let handle = tjInitDecompress() else {
            fatalError("tjInitDecompress failed: \(String(cString: tjGetErrorStr2(nil)))")
        }
        return handle
    }

    /// Decodes `bytes`; `name` (usually the file path) is used in errors. Anything libjpeg-turbo cannot
    /// decode completely and without a warning throws a `DataError` that names `name` and the fix.
    public func decode(_ bytes: [UInt8], name: String) throws -> RGBImage {
        guard !bytes.isEmpty else {
            throw unreadable(name, problem: "empty JPEG file (0 bytes)")
        }
        var width: Int32 = 0
        var height: Int32 = 0
        var subsampling: Int32 = 0
        var colorspace: Int32 = 0
        let header = bytes.withUnsafeBufferPointer { buffer in
            tjDecompressHeader3(handle, buffer.baseAddress, UInt(buffer.count),
                                &width, &height, &subsampling, &colorspace)
        }
        guard header == 0, width > 0, height > 0 else {
            throw unreadable(name, problem: "not a readable JPEG (\(lastError))")
        }
        var pixels = [UInt8](repeating: 0, count: Int(width) * Int(height) * 3)
        let status = bytes.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                tjDecompress2(handle, source.baseAddress, UInt(source.count), target.baseAddress,
                              width, 0, height, TJPF_RGB.rawValue, TJFLAG_STOPONWARNING)
            }
        }
        guard status == 0 else {
            let kind = tjGetErrorCode(handle) == TJERR_WARNING.rawValue ? "damaged or truncated JPEG" : "corrupt JPEG"
            throw unreadable(name, problem: "\(kind) (\(lastError))")
        }
        return RGBImage(width: Int(width), height: Int(height), pixels: pixels)
    }

    /// Reads and decodes the JPEG file at `path`.
    public func decodeFile(atPath path: String) throws -> RGBImage {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, problem: "cannot read the JPEG file",
                            fix: "check that the file exists and is readable")
        }
        return try decode([UInt8](data), name: path)
    }

    private var lastError: String { String(cString: tjGetErrorStr2(handle)) }

    /// The error for `name`, after replacing the handle that failed.
    private func unreadable(_ name: String, problem: String) -> DataError {
        tjDestroy(handle)
        handle = Self.makeHandle()
        return DataError(file: name, problem: problem,
                         fix: "re-extract this frame from the source video, or leave the clip out with --skip-bad")
    }
}

/// Encodes `RGBImage` to baseline JPEG bytes (4:2:0 chroma subsampling) with libjpeg-turbo.
/// One encoder per thread; it reuses its TurboJPEG handle.
public final class JPEGEncoder {
    private let handle: tjhandle

    public init() {
        guard let handle = tjInitCompress() else {
            fatalError("tjInitCompress failed: \(String(cString: tjGetErrorStr2(nil)))")
        }
        self.handle = handle
    }

    deinit { tjDestroy(handle) }

    /// Encodes `image` at `quality` (1…100).
    public func encode(_ image: RGBImage, quality: Int = 90) throws -> [UInt8] {
        try image.pixels.withUnsafeBufferPointer { pixels in
            try encode(pixels, width: image.width, height: image.height, quality: quality)
        }
    }

    /// Encodes interleaved RGB `pixels` (`width × height × 3` bytes) at `quality` (1…100).
    public func encode(_ pixels: UnsafeBufferPointer<UInt8>, width: Int, height: Int, quality: Int = 90) throws -> [UInt8] {
        precondition(pixels.count >= width * height * 3, "JPEG encode needs width × height × 3 bytes")
        let subsampling = Int32(TJSAMP_420.rawValue)
        let capacity = Int(tjBufSize(Int32(width), Int32(height), subsampling))
        var output = [UInt8](repeating: 0, count: capacity)
        var size = UInt(capacity)
        let status = output.withUnsafeMutableBufferPointer { target in
            var pointer = target.baseAddress
            return tjCompress2(handle, pixels.baseAddress, Int32(width), 0, Int32(height), TJPF_RGB.rawValue,
                               &pointer, &size, subsampling, Int32(min(max(quality, 1), 100)), TJFLAG_NOREALLOC)
        }
        guard status == 0 else {
            throw DataError(file: "<memory>",
                            problem: "JPEG encoding failed (\(String(cString: tjGetErrorStr2(handle))))",
                            fix: "check the image size (\(width)×\(height))")
        }
        output.removeSubrange(Int(size)...)
        return output
    }
}
