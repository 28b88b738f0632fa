import Crypto

/// A streaming SHA-256 for the packed cache's digest of its inputs, checkpoint digests, trial seeds and
/// replica state digests: swift-crypto's `SHA256` (BoringSSL's on Linux) with ferd's two additions,
/// length-safe fields and the digest as lowercase hex, the form stored in caches and on the wire.
public struct SHA256: Sendable {
    private var hasher = Crypto.SHA256()

    public init() {}

    /// Adds `bytes` to the message.
    public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        let hashed: Void? = bytes.withContiguousStorageIfAvailable { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        if hashed == nil { hasher.update(data: Array(bytes)) }
    }

    /// Adds the UTF-8 bytes of `text` followed by a 0 byte, so that consecutive fields cannot run together.
    public mutating func update(field text: String) {
        var text = text
        text.withUTF8 { hasher.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        update([0])
    }

    /// The digest as 64 lowercase hex digits.
    public func hexDigest() -> String {
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8]()
        hex.reserveCapacity(2 * Crypto.SHA256.byteCount)
        for byte in hasher.finalize() {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: hex, as: UTF8.self)
    }
}
