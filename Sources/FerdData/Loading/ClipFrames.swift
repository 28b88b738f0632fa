/// The frames of one clip at the working resolution (side × side uint8 RGB): views into a packed
/// cache, or JPEGs decoded on demand and resized (PIL bilinear) to S×S, each decoded at most once.
final class ClipFrames {
    let count: Int
    /// The working frame width and height: the cache's S, or the loader's S for JPEG folders.
    let side: Int
    private let source: Source
    private var decoded: [Int: [UInt8]] = [:]

    private enum Source {
        case cache(PackedCache, PackedClip)
        case files(ClipRecord, JPEGDecoder)
    }

    init(clip: ClipRecord, cached: PackedClip?, store: FrameStore, size: Int, decoder: JPEGDecoder?) throws {
        switch store {
        case let .cache(cache):
            guard let cached else { preconditionFailure("cached clip missing for \(clip.id)") }
            source = .cache(cache, cached)
            count = cached.frameCount
            side = cache.size
        case .jpegFolders:
            guard let decoder else { preconditionFailure("JPEG folders need a decoder") }
            guard !clip.frames.isEmpty else {
                throw DataError(file: clip.directory, problem: "clip \(clip.id) has no frames",
                                fix: "re-extract the clip's frames, or leave it out with --skip-bad")
            }
            source = .files(clip, decoder)
            count = clip.frames.count
            side = size
        }
    }

    /// Calls `body` with frame `index` (side × side × 3 bytes).
    func withFrame<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) throws -> R {
        switch source {
        case let .cache(cache, clip):
            return try body(cache.frame(index, of: clip))
        case let .files(record, decoder):
            if decoded[index] == nil {
                let image = try decoder.decodeFile(atPath: record.frames[index])
                decoded[index] = image.width == side && image.height == side
                    ? image.pixels : image.resized(width: side, height: side).pixels
            }
            return try decoded[index]!.withUnsafeBufferPointer(body)
        }
    }
}
