/// Kinds of data-plane frames (docs/DATA-PARALLEL.md lists who sends which).
public enum FrameType: UInt8, Sendable, CaseIterable {
    /// member → hub: payload `JoinPayload`.
    case join = 1
    /// hub → members: the ranks joined so far (UInt16 each).
    case joined
    /// hub → members: every rank's ring endpoint and CURVE public key (`Payload.peers`).
    case peers
    /// member → hub: this member is done.
    case leave
    /// heartbeat in every direction; no payload.
    case ping
    /// member → hub → members: the gang fails; payload UTF-8 reason.
    case abort
    /// member → hub: one chunk of a bucket to be summed.
    case reduce
    /// hub → members: the summed (or averaged) chunk.
    case reduced
    /// member → hub: this member's bytes for allGather.
    case gather
    /// hub → members: every rank's bytes (`Payload.blocks`).
    case gathered
    /// member → next member: a ring segment (reduce-scatter or all-gather phase, see `FrameHeader.Flags`).
    case ring
}

/// Why a frame was rejected.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    case wrongFrameCount(Int)
    case truncated(Int)
    case badMagic
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    case unknownPrecision(UInt8)
    case badRank(rank: UInt16, size: UInt16)
    case payloadLength(declared: UInt32, actual: Int)
    case malformedPayload(String)

    public var description: String {
        switch self {
        case .wrongFrameCount(let count): "expected a header and a payload frame, got \(count) frame(s)"
        case .truncated(let count): "header of \(count) bytes, expected \(FrameHeader.size)"
        case .badMagic: "not a ferd gradient frame (bad magic)"
        case .unsupportedVersion(let version): "gradient frame version \(version), this build speaks \(FrameHeader.version)"
        case .unknownType(let type): "unknown gradient frame type \(type)"
        case .unknownPrecision(let code): "unknown wire precision \(code)"
        case .badRank(let rank, let size): "rank \(rank) outside a gang of \(size)"
        case .payloadLength(let declared, let actual): "payload of \(actual) bytes, header says \(declared)"
        case .malformedPayload(let detail): "malformed payload: \(detail)"
        }
    }
}

/// The fixed 44-byte little-endian header of every data-plane message; the payload travels as a second
/// ZeroMQ frame so that gradient bytes are never copied into a header buffer.
///
/// Layout: magic "FGX!" (4), version (1), type (1), precision (1: 0 float32, 1 float16), flags (1),
/// gangID (8), step (8), bucket (4), part (4), segment (4), rank (2), gang size (2), payload length (4).
public struct FrameHeader: Sendable, Equatable {
    public static let magic: [UInt8] = [0x46, 0x47, 0x58, 0x21]
    public static let version: UInt8 = 2
    public static let size = 44

    /// Bits of `flags`.
    public enum Flags {
        /// reduce/reduced/ring: divide the sum by the gang size.
        public static let average: UInt8 = 1
        /// ring: the all-gather phase (final values), not a partial sum.
        public static let gatherPhase: UInt8 = 2
        /// ring: bytes of an allGather, not floats.
        public static let bytes: UInt8 = 4
    }

    public var type: FrameType
    public var precision: GangSpec.Precision
    public var flags: UInt8
    public var gangID: UInt64
    /// The member's exchange counter: every beginStep, allReduce and allGather is one exchange.
    public var step: UInt64
    /// Bucket index within the step.
    public var bucket: UInt32
    /// Chunk (star) or piece (ring) index within the bucket.
    public var part: UInt32
    /// Ring segment index.
    public var segment: UInt32
    public var rank: UInt16
    public var gangSize: UInt16
    public var payloadLength: UInt32

    public init(type: FrameType, precision: GangSpec.Precision = .float32, flags: UInt8 = 0, gangID: UInt64,
                step: UInt64 = 0, bucket: UInt32 = 0, part: UInt32 = 0, segment: UInt32 = 0, rank: UInt16,
                gangSize: UInt16, payloadLength: UInt32 = 0) {
        self.type = type
        self.precision = precision
        self.flags = flags
        self.gangID = gangID
        self.step = step
        self.bucket = bucket
        self.part = part
        self.segment = segment
        self.rank = rank
        self.gangSize = gangSize
        self.payloadLength = payloadLength
    }

    public func encoded() -> [UInt8] {
        var bytes = FrameHeader.magic
        bytes.reserveCapacity(FrameHeader.size)
        bytes.append(FrameHeader.version)
        bytes.append(type.rawValue)
        bytes.append(precision == .float32 ? 0 : 1)
        bytes.append(flags)
        bytes.appendLittleEndian(gangID)
        bytes.appendLittleEndian(step)
        bytes.appendLittleEndian(bucket)
        bytes.appendLittleEndian(part)
        bytes.appendLittleEndian(segment)
        bytes.appendLittleEndian(rank)
        bytes.appendLittleEndian(gangSize)
        bytes.appendLittleEndian(payloadLength)
        return bytes
    }

    /// Decodes and validates a header; `payloadCount` is the size of the payload frame that came with it.
    public static func decode(_ bytes: [UInt8], payloadCount: Int) throws(FrameError) -> FrameHeader {
        guard bytes.count == size else { throw .truncated(bytes.count) }
        guard Array(bytes[0..<4]) == magic else { throw .badMagic }
        guard bytes[4] == version else { throw .unsupportedVersion(bytes[4]) }
        guard let type = FrameType(rawValue: bytes[5]) else { throw .unknownType(bytes[5]) }
        let precision: GangSpec.Precision
        switch bytes[6] {
        case 0: precision = .float32
        case 1: precision = .float16
        default: throw .unknownPrecision(bytes[6])
        }
        var reader = LittleEndianReader(bytes: bytes, offset: 8)
        let header = FrameHeader(
            type: type, precision: precision, flags: bytes[7], gangID: reader.read(), step: reader.read(),
            bucket: reader.read(), part: reader.read(), segment: reader.read(), rank: reader.read(),
            gangSize: reader.read(), payloadLength: reader.read())
        guard header.gangSize > 0, header.rank < header.gangSize else {
            throw .badRank(rank: header.rank, size: header.gangSize)
        }
        guard Int(header.payloadLength) == payloadCount else {
            throw .payloadLength(declared: header.payloadLength, actual: payloadCount)
        }
        return header
    }

    /// Whether the payload is float values (a chunk to reduce, a reduced chunk, a ring segment of a reduction),
    /// which receivers read in place from the message; other payloads are small and structured.
    var carriesFloats: Bool {
        switch type {
        case .reduce, .reduced: true
        case .ring: flags & Flags.bytes == 0
        case .join, .joined, .peers, .leave, .ping, .abort, .gather, .gathered: false
        }
    }

    /// Decodes a received message of exactly two frames, header and payload.
    public static func decode(frames: [[UInt8]]) throws(FrameError) -> FrameHeader {
        guard frames.count == 2 else { throw .wrongFrameCount(frames.count) }
        return try decode(frames[0], payloadCount: frames[1].count)
    }
}

/// Encoders and decoders of the structured payloads.
public enum Payload {
    /// JOIN: the member's timeout in milliseconds (UInt32), then its ring endpoint and its CURVE public key (Z85,
    /// empty without CURVE) as `strings`.
    public static func join(timeout: Double, ringEndpoint: String, publicKey: String = "") -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(UInt32(clamping: Int((timeout * 1000).rounded())))
        return bytes + strings([ringEndpoint, publicKey])
    }

    public static func decodeJoin(_ bytes: [UInt8]) throws(FrameError)
        -> (timeout: Double, ringEndpoint: String, publicKey: String) {
        guard bytes.count >= 4 else { throw .malformedPayload("join of \(bytes.count) bytes") }
        var reader = LittleEndianReader(bytes: bytes, offset: 0)
        let milliseconds: UInt32 = reader.read()
        guard milliseconds > 0 else { throw .malformedPayload("join with a zero timeout") }
        let fields = try decodeStrings(Array(bytes[4...]))
        guard fields.count == 2 else { throw .malformedPayload("join with \(fields.count) fields, expected endpoint and key") }
        return (Double(milliseconds) / 1000, fields[0], fields[1])
    }

    /// One member as PEERS lists it.
    public struct Peer: Sendable, Equatable {
        public var endpoint: String
        /// Its CURVE public key (Z85); empty without CURVE.
        public var publicKey: String

        public init(endpoint: String, publicKey: String = "") {
            self.endpoint = endpoint
            self.publicKey = publicKey
        }
    }

    /// PEERS: every rank's ring endpoint, then every rank's public key, as `strings`.
    public static func peers(_ peers: [Peer]) -> [UInt8] {
        strings(peers.map(\.endpoint) + peers.map(\.publicKey))
    }

    public static func decodePeers(_ bytes: [UInt8]) throws(FrameError) -> [Peer] {
        let fields = try decodeStrings(bytes)
        guard fields.count % 2 == 0 else { throw .malformedPayload("peer list of \(fields.count) fields, expected pairs") }
        let count = fields.count / 2
        return (0..<count).map { Peer(endpoint: fields[$0], publicKey: fields[count + $0]) }
    }

    /// A list of byte blocks: count (UInt32), then per block its length (UInt32) and bytes.
    public static func blocks(_ blocks: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4 + blocks.reduce(0) { $0 + 4 + $1.count })
        bytes.appendLittleEndian(UInt32(blocks.count))
        for block in blocks {
            bytes.appendLittleEndian(UInt32(block.count))
            bytes.append(contentsOf: block)
        }
        return bytes
    }

    public static func decodeBlocks(_ bytes: [UInt8]) throws(FrameError) -> [[UInt8]] {
        guard bytes.count >= 4 else { throw .malformedPayload("block list of \(bytes.count) bytes") }
        var reader = LittleEndianReader(bytes: bytes, offset: 0)
        let count = Int(reader.read() as UInt32)
        guard count <= (bytes.count - 4) / 4 else { throw .malformedPayload("block list claims \(count) blocks") }
        var blocks: [[UInt8]] = []
        for _ in 0..<count {
            guard reader.offset + 4 <= bytes.count else { throw .malformedPayload("truncated block list") }
            let length = Int(reader.read() as UInt32)
            guard length <= bytes.count - reader.offset else { throw .malformedPayload("truncated block") }
            blocks.append(Array(bytes[reader.offset..<(reader.offset + length)]))
            reader.offset += length
        }
        guard reader.offset == bytes.count else { throw .malformedPayload("trailing bytes after block list") }
        return blocks
    }

    public static func strings(_ strings: [String]) -> [UInt8] { blocks(strings.map { Array($0.utf8) }) }

    public static func decodeStrings(_ bytes: [UInt8]) throws(FrameError) -> [String] {
        try decodeBlocks(bytes).map { String(decoding: $0, as: UTF8.self) }
    }

    public static func ranks(_ ranks: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        for rank in ranks { bytes.appendLittleEndian(UInt16(rank)) }
        return bytes
    }

    public static func decodeRanks(_ bytes: [UInt8]) throws(FrameError) -> [Int] {
        guard bytes.count % 2 == 0 else { throw .malformedPayload("rank list of \(bytes.count) bytes") }
        var reader = LittleEndianReader(bytes: bytes, offset: 0)
        return (0..<(bytes.count / 2)).map { _ in Int(reader.read() as UInt16) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

struct LittleEndianReader {
    let bytes: [UInt8]
    var offset: Int

    /// Reads the next integer; the caller has checked that enough bytes remain.
    mutating func read<T: FixedWidthInteger>() -> T {
        let value = bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }
}
