import FerdZeroMQ

/// Who a gang member is and how the gang exchanges gradients (docs/DATA-PARALLEL.md, "Gradient exchange").
/// Every member of a gang gets the same spec except `rank` (and, on a real cluster, `ringBindAddress`).
public struct GangSpec: Sendable, Codable, Equatable {
    /// How gradients travel between members.
    public enum Topology: String, Sendable, Codable {
        /// Every member sends its buckets to the hub, which sums them and sends the result back.
        case star
        /// Members pass segments to the next rank: reduce-scatter, then all-gather.
        case ring
    }

    /// What goes on the wire. Summation is always float32.
    public enum Precision: String, Sendable, Codable {
        case float32
        /// IEEE 754 binary16, rounded to nearest even; halves the bytes, loses ~3 decimal digits.
        case float16

        /// Bytes per element on the wire.
        public var bytesPerElement: Int { self == .float32 ? 4 : 2 }
    }

    /// Default bucket size, as PyTorch DDP's `bucket_cap_mb`.
    public static let defaultBucketBytes = 25 << 20

    /// Unique per trial attempt; frames of other gangs are rejected.
    public var gangID: UInt64
    /// This member's position, 0..<size.
    public var rank: Int
    /// Number of members.
    public var size: Int
    public var topology: Topology
    public var precision: Precision
    /// The hub's ROUTER endpoint, such as "tcp://10.0.0.1:5600".
    public var hubEndpoint: String
    /// Gradients are sent in buckets of about this many bytes (float32), formed in offer order.
    public var bucketBytes: Int
    /// Largest payload of one message; buckets travel in chunks of at most this many bytes (float32).
    public var chunkBytes: Int
    /// A peer (or the hub) silent for this many seconds fails the operation with a `GangError`.
    public var timeout: Double
    /// Where this member binds its ring receiving socket; other members connect to the endpoint it gets.
    /// Must be an address the previous rank can reach: "tcp://10.0.0.5:*" on a cluster.
    public var ringBindAddress: String
    /// CURVE on every link of the member (the hub and the ring); nil: unencrypted (loopback or a trusted network).
    /// Never encoded: a spec written anywhere carries no secret key.
    public var curve: GangCurve?

    private enum CodingKeys: String, CodingKey {
        case gangID, rank, size, topology, precision, hubEndpoint, bucketBytes, chunkBytes, timeout, ringBindAddress
    }

    public init(gangID: UInt64, rank: Int, size: Int, topology: Topology = .ring, precision: Precision = .float32,
                hubEndpoint: String, bucketBytes: Int = GangSpec.defaultBucketBytes, chunkBytes: Int = 4 << 20, timeout: Double = 60,
                ringBindAddress: String = "tcp://127.0.0.1:*", curve: GangCurve? = nil) {
        self.curve = curve
        self.gangID = gangID
        self.rank = rank
        self.size = size
        self.topology = topology
        self.precision = precision
        self.hubEndpoint = hubEndpoint
        self.bucketBytes = bucketBytes
        self.chunkBytes = chunkBytes
        self.timeout = timeout
        self.ringBindAddress = ringBindAddress
    }

    /// Floats per message.
    var chunkElements: Int { max(1, chunkBytes / 4) }

    /// Seconds between heartbeats, so that a live peer is never taken for a silent one.
    var heartbeatInterval: Double { min(1, timeout / 4) }

    /// The rank this member receives ring segments from.
    var leftRank: Int { (rank + size - 1) % size }

    /// The rank this member sends ring segments to.
    var rightRank: Int { (rank + 1) % size }
}

/// A gang member's CURVE keys: its own pair (the worker's, whose public key the coordinator's allow-list holds) and
/// the hub's public key (the coordinator's). The hub admits only allow-listed members (its ZAP handler); each
/// member's ring socket is a CURVE server whose public key only the gang learns (in PEERS, over the encrypted hub
/// link), and its left neighbour connects to it with that key, so gradients are encrypted on every link.
public struct GangCurve: Sendable, Equatable {
    public var keyPair: CurveKeyPair
    public var hubPublicKey: String

    public init(keyPair: CurveKeyPair, hubPublicKey: String) {
        self.keyPair = keyPair
        self.hubPublicKey = hubPublicKey
    }
}
