/// The protocol decisions of one gang member, free of sockets, threads and clocks: feed it the frames that arrive
/// and the current time, and it says what they mean and what is due — the rendezvous (who has joined, the peer
/// list, the timeout naming the ranks still missing), liveness (when to ping, when the hub or the left neighbour
/// has been silent too long), retries (when a send that cannot be queued gives up), which frame a waiting
/// operation accepts, and the ring's schedule of segments. `CommunicationEngine` is its I/O shell: it owns the
/// sockets and the float data path (zero-copy sends, pooled buffers, the summation kernels) and asks this type
/// for every decision.
struct GangProtocol: Sendable {
    /// What an arriving frame calls for.
    enum Arrival: Equatable {
        /// Nothing more to do (a ping, a rendezvous update).
        case handled
        /// A result from the hub, for the operation that waits for it.
        case hubResult
        /// A ring segment from the left neighbour, for the operation that waits for it.
        case ringSegment
        /// Not for this member; the shell logs `reason` and drops the frame.
        case dropped(reason: String)
    }

    let gangID: UInt64
    let rank: Int
    let size: Int
    let timeout: Double
    let heartbeatInterval: Double
    let hubEndpoint: String
    /// Ranks the hub reported as joined so far.
    private(set) var joinedRanks: [Int] = []
    /// Every member's ring endpoint by rank, once the hub has sent them.
    private(set) var peers: [String]?
    private var lastHeardHub: Double
    private var lastHeardLeft: Double
    private var lastPing: Double?

    init(spec: GangSpec, at time: Double) {
        gangID = spec.gangID
        rank = spec.rank
        size = spec.size
        timeout = spec.timeout
        heartbeatInterval = spec.heartbeatInterval
        hubEndpoint = spec.hubEndpoint
        lastHeardHub = time
        lastHeardLeft = time
    }

    /// The rank this member receives ring segments from.
    var left: Int { (rank + size - 1) % size }
    /// The rank this member sends ring segments to.
    var right: Int { (rank + 1) % size }

    // MARK: arrivals

    /// Classifies a decoded frame that came from the hub (`fromHub`) or from the ring; `controlPayload` is the
    /// payload of a control frame (joined, peers, abort). Throws when the hub aborts the gang or sends a broken
    /// peer list.
    mutating func receive(_ frame: FrameHeader, controlPayload: () -> [UInt8], fromHub: Bool,
                          at time: Double) throws(GangError) -> Arrival {
        guard frame.gangID == gangID, Int(frame.gangSize) == size else {
            return .dropped(reason: "a frame of gang \(frame.gangID)")
        }
        if fromHub {
            lastHeardHub = time
            switch frame.type {
            case .ping: return .handled
            case .joined:
                if let ranks = try? Payload.decodeRanks(controlPayload()) { joinedRanks = ranks }
                return .handled
            case .peers:
                let list: [String]
                do { list = try Payload.decodeStrings(controlPayload()) } catch {
                    throw .protocolViolation(gangID: gangID, rank: rank, detail: "peer list: \(error)")
                }
                guard list.count == size else {
                    throw .protocolViolation(gangID: gangID, rank: rank,
                                             detail: "the hub sent \(list.count) endpoints for a gang of \(size)")
                }
                peers = list
                return .handled
            case .abort:
                throw .aborted(gangID: gangID, rank: rank, reason: String(decoding: controlPayload(), as: UTF8.self))
            case .reduced, .gathered: return .hubResult
            default: return .dropped(reason: "unexpected \(frame.type) from the hub")
            }
        }
        guard Int(frame.rank) == left else { return .dropped(reason: "ring frame from rank \(frame.rank), not \(left)") }
        lastHeardLeft = time
        switch frame.type {
        case .ping: return .handled
        case .ring: return .ringSegment
        default: return .dropped(reason: "unexpected \(frame.type) on the ring")
        }
    }

    // MARK: time

    /// Whether a ping is due at `time` (and, if so, records it as sent).
    mutating func pingDue(at time: Double) -> Bool {
        if let lastPing, time - lastPing < heartbeatInterval { return false }
        lastPing = time
        return true
    }

    /// Throws when the rendezvous that began at `start` has waited longer than the timeout without the peer list,
    /// naming the ranks the hub has not seen join.
    func checkRendezvous(startedAt start: Double, at time: Double) throws(GangError) {
        guard peers == nil, time - start > timeout else { return }
        let missing = (0..<size).filter { !joinedRanks.contains($0) }
        throw .rendezvousTimeout(gangID: gangID, rank: rank, missingRanks: missing, seconds: time - start, hub: hubEndpoint)
    }

    /// Throws when a member waiting for the hub has heard nothing from it for longer than the timeout.
    func checkHub(at time: Double) throws(GangError) {
        let silent = time - lastHeardHub
        if silent > timeout { throw .hubSilent(gangID: gangID, rank: rank, hub: hubEndpoint, seconds: silent) }
    }

    /// Throws when a member waiting for its left neighbour has heard nothing from it for longer than the timeout.
    func checkLeft(at time: Double) throws(GangError) {
        let silent = time - lastHeardLeft
        if silent > timeout { throw .peerSilent(gangID: gangID, rank: rank, peer: left, seconds: silent) }
    }

    /// The ring connection is up: the left neighbour counts as heard from now.
    mutating func ringConnected(at time: Double) {
        lastHeardLeft = time
    }

    /// Throws when a send to `peer` (nil: the hub) that libzmq could not queue has been retried since `start` for
    /// longer than the timeout; the shell keeps retrying otherwise.
    func checkRetry(to peer: Int?, startedAt start: Double, at time: Double) throws(GangError) {
        let waited = time - start
        guard waited > timeout else { return }
        if let peer { throw .peerSilent(gangID: gangID, rank: rank, peer: peer, seconds: waited) }
        throw .hubSilent(gangID: gangID, rank: rank, hub: hubEndpoint, seconds: waited)
    }

    // MARK: operations

    /// Checks that a hub reply is the result a star reduction waits for: part `part` of bucket `bucket` of
    /// exchange `step`, with `bytes` bytes of payload.
    func expectReduced(_ reply: FrameHeader, payloadCount: Int, step: UInt64, bucket: UInt32, parts: Int,
                       bytes: (Int) -> Int) throws(GangError) {
        let part = Int(reply.part)
        guard reply.type == .reduced, reply.step == step, reply.bucket == bucket, part < parts,
              payloadCount == bytes(part) else {
            throw .protocolViolation(gangID: gangID, rank: rank,
                                     detail: "expected the result of exchange \(step) bucket \(bucket), got "
                                     + "\(reply.type) of exchange \(reply.step) bucket \(reply.bucket) part \(reply.part)")
        }
    }

    /// Checks that a ring frame is the segment the current ring step waits for.
    func expectSegment(_ frame: FrameHeader, payloadCount: Int, step: UInt64, bucket: UInt32, part: UInt32,
                       segment: Int, flags: UInt8, precision: GangSpec.Precision, bytes: Int?) throws(GangError) {
        guard frame.rank == left, frame.step == step, frame.bucket == bucket, frame.part == part,
              frame.segment == segment, frame.flags == flags, frame.precision == precision,
              bytes == nil || payloadCount == bytes else {
            throw .protocolViolation(gangID: gangID, rank: rank,
                                     detail: "expected segment \(segment) of exchange \(step) bucket \(bucket) part "
                                     + "\(part) (\(bytes.map { "\($0) bytes" } ?? "bytes")) from rank \(left), got segment "
                                     + "\(frame.segment) of exchange \(frame.step) bucket \(frame.bucket) part "
                                     + "\(frame.part) (\(payloadCount) bytes) from rank \(frame.rank)")
        }
    }

    /// The segments a ring step moves: in `phase` 0 (reduce-scatter) or 1 (all-gather), step `j` of k − 1 sends
    /// segment `sent` to the right and receives segment `received` from the left. Segment s is summed along
    /// s, s+1, …, s−1 and finished by rank s−1, which then passes the final values around.
    func ringStep(_ j: Int, phase: Int) -> (sent: Int, received: Int) {
        let sent = phase == 0 ? (rank - j + 2 * size) % size : (rank + 1 - j + 2 * size) % size
        return (sent, (sent + size - 1) % size)
    }

    /// The step of an all-gather of byte blocks around the ring: step `j` sends block `sent`, receives `received`.
    func gatherStep(_ j: Int) -> (sent: Int, received: Int) {
        let sent = (rank - j + size) % size
        return (sent, (sent + size - 1) % size)
    }
}
