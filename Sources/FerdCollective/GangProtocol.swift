/// The protocol of one gang member's communication thread, free of sockets, threads and clocks, like the
/// cluster's `WorkerSession`: feed it what happened — the thread started, a frame arrived, a job was submitted,
/// time passed, a send is stuck — with the time as a value, and carry out the actions it returns, in order.
///
/// It decides the rendezvous (JOIN, the peer list, the timeout naming the ranks still missing), liveness (when
/// to ping; when the hub, the left neighbour or a stuck send has been silent longer than `GangSpec.timeout`),
/// failure (the `GangError`, and whether to tell the hub with ABORT), leaving, and the jobs: which one runs
/// when (star: the next bucket goes out while the previous one's results come back, at most two in flight),
/// which frame a job sends next, which arriving frame it accepts, what a received payload does to its values
/// and when it is complete, with its traffic and time (`GangProtocol+Exchanges.swift`).
///
/// It does not move floats. `CommunicationEngine`, its I/O shell, owns the sockets, the clock, the jobs' memory
/// and the data path — float32 sent straight from the jobs' storage, float16 through pooled buffers, the
/// summation and conversion kernels — and applies the actions that name ranges of a job's values (`send`,
/// `storeResult`, `combine`) to that memory. The per-chunk arithmetic stays there, so the hot path copies and
/// allocates exactly what it did before the protocol had a core of its own.
struct GangProtocol: Sendable {
    /// Where a frame came from.
    enum Source: Sendable, Equatable {
        case hub
        /// The left neighbour on the ring, rank − 1.
        case left
    }

    /// Where a frame goes.
    enum Destination: Sendable, Equatable {
        case hub
        /// The right neighbour on the ring, rank + 1.
        case right
    }

    /// A job as the protocol sees it: what to exchange, not where its values live (the shell keeps them).
    enum Job: Sendable, Equatable {
        /// Sum (or average) `count` floats over the gang, in place.
        case reduce(count: Int, average: Bool, step: UInt64, bucket: UInt32, inStep: Bool)
        /// Every member's bytes.
        case gather(bytes: [UInt8], step: UInt64)
    }

    /// The payload of a frame to send.
    enum Outgoing: Sendable, Equatable {
        /// These bytes (JOIN, a GATHER, a block of a ring allGather).
        case bytes([UInt8])
        /// `count` values from `offset` of job `job`'s values, on the wire precision: float32 lent to libzmq as
        /// they are, float16 encoded into a pooled buffer. `tracked` values are counted until libzmq gives
        /// them back, which the ring awaits before its job completes (`Event.lentValuesReturned`).
        case values(job: Int, offset: Int, count: Int, tracked: Bool)
        /// The float16 bytes the last `combine` left: the sums it encoded, or the all-gather segment it
        /// copied, forwarded unchanged.
        case combined
    }

    /// What a received ring segment does to the job's values.
    enum Combination: Sendable, Equatable {
        /// Reduce-scatter: added.
        case add
        /// The last reduce-scatter step, which finishes this member's segment: added, then divided (by 1 for a
        /// plain sum, which is exact) and, for float16, rounded to the wire values every member then uses.
        case addDividing(by: Float)
        /// All-gather: the finished values, copied.
        case copy
    }

    /// What a completed job hands back to its caller.
    struct Completion: Sendable, Equatable {
        /// Traffic since the previous completion (or since the job started, when nothing else ran), and the
        /// seconds of this job not overlapped with the previous one.
        var counters: GangStatistics.Counters
        /// Whether the job was a bucket of the current step.
        var inStep: Bool
        /// The blocks of an allGather, by rank.
        var gathered: [[UInt8]]?
    }

    /// Something that happened to the member.
    enum Event: Sendable, Equatable {
        /// The thread starts; its ring socket listens at `ringEndpoint` ("" in the star).
        case started(ringEndpoint: String, at: Double)
        /// A well-formed frame arrived. `bytes` is its payload, except for frames that carry floats
        /// (`FrameHeader.carriesFloats`): the shell keeps those in their message when told to (`keepPayload`).
        case received(FrameHeader, from: Source, bytes: [UInt8], at: Double)
        /// The caller submitted a job; `id` is the shell's name for it, used by the actions on its values.
        case submitted(Job, id: Int, at: Double)
        /// libzmq has given back every value lent to it with `Outgoing.values(tracked: true)`.
        case lentValuesReturned(at: Double)
        /// Time passed.
        case tick(at: Double)
        /// A send to `destination` could not be queued since `since` (its peer is not connected yet): time
        /// passed while the shell keeps trying.
        case sendStalled(to: Destination, since: Double, at: Double)
        /// The attempt was cancelled.
        case cancelled
        /// The shell could not carry out an action (a socket failed).
        case failed(GangError)
        /// The member is closing: it leaves once the submitted jobs are done, or at once after a failure.
        case closeRequested
    }

    /// What the shell must do.
    enum Action: Sendable, Equatable {
        /// Send a frame; while libzmq cannot queue it, retry (reporting `sendStalled`) and keep the actions that
        /// follow waiting behind it.
        case send(FrameHeader, Outgoing, to: Destination)
        /// Send a frame once if possible, ignoring failure: heartbeats, ABORT, LEAVE.
        case notify(FrameHeader, [UInt8], to: Destination)
        /// Connect the ring's sending socket to the right neighbour, `rank`, at `endpoint`.
        /// Connect the ring to the right neighbour; `serverKey` is its CURVE public key (nil: unencrypted).
        case connectRing(rank: Int, endpoint: String, serverKey: String?)
        /// Every member has joined: the member's callers may go on.
        case ready
        /// Keep the float payload of the frame just received, after the others from `source`; `storeResult` and
        /// `combine` use the kept payloads in that order.
        case keepPayload(from: Source)
        /// Star: write the next kept hub payload, `count` wire values, to `offset` of job `job`'s values.
        case storeResult(job: Int, offset: Int, count: Int)
        /// Ring: combine the next kept ring payload, `count` wire values, with `offset` of job `job`'s values.
        case combine(job: Int, offset: Int, count: Int, Combination)
        /// Job `job` is done; jobs complete in submission order.
        case complete(job: Int, Completion)
        /// The frame just received is ignored; `reason` is for the log.
        case drop(reason: String)
        /// The member failed; it ignores every event but `closeRequested` from now on.
        case fail(GangError)
    }

    /// What the member waits for, which tells the shell how to wait.
    enum Awaiting: Sendable, Equatable {
        /// Nothing runs: new jobs should start at once.
        case jobs
        /// Frames: the peer list, the hub's results or ring segments.
        case frames
        /// libzmq to give back the values a finished ring job lent it.
        case lentValues
        /// Nothing more: the member failed or left.
        case nothing
    }

    /// Where the member is in its life.
    private enum Stage: Sendable, Equatable {
        case created
        /// JOIN sent at `since`, the peer list not yet received.
        case joining(since: Double)
        case ready
        case failed
        case left
    }

    let spec: GangSpec
    private var stage = Stage.created
    /// Ranks the hub reported as joined so far.
    private(set) var joinedRanks: [Int] = []
    /// Every member's ring endpoint by rank, once the hub has sent them.
    private(set) var peers: [String]?
    private var ringConnected = false
    private var closing = false
    private var lastHeardHub = 0.0
    private var lastHeardLeft = 0.0
    private var lastPing: Double?
    /// The jobs, and the hub results and ring segments they take.
    private var exchanges: Exchanges

    init(spec: GangSpec) {
        self.spec = spec
        exchanges = Exchanges(spec: spec)
    }

    /// False once the member failed or left.
    var isActive: Bool { stage != .failed && stage != .left }

    /// True from a failure until the member leaves.
    var hasFailed: Bool { stage == .failed }

    /// What the member waits for now.
    var awaiting: Awaiting {
        switch stage {
        case .created, .joining: .frames
        case .failed, .left: .nothing
        case .ready: exchanges.awaiting
        }
    }

    /// Applies one event and returns the actions it calls for. Once the member failed or left, every event but
    /// `closeRequested` is ignored.
    mutating func handle(_ event: Event) -> [Action] {
        var actions: [Action] = []
        switch event {
        case .closeRequested:
            close(into: &actions)
        case _ where !isActive:
            break
        case let .started(ringEndpoint, time):
            guard stage == .created else { break }
            stage = .joining(since: time)
            lastHeardHub = time
            lastHeardLeft = time
            let join = Payload.join(timeout: spec.timeout, ringEndpoint: ringEndpoint,
                                    publicKey: spec.curve?.keyPair.publicKey ?? "")
            actions.append(.send(controlHeader(.join, payloadLength: join.count), .bytes(join), to: .hub))
        case let .received(frame, source, bytes, time):
            receive(frame, from: source, bytes: bytes, at: time, into: &actions)
        case let .submitted(job, id, time):
            exchanges.submit(job, id: id)
            advance(at: time, into: &actions)
        case let .lentValuesReturned(time):
            exchanges.valuesReturned(at: time, into: &actions)
            advance(at: time, into: &actions)
        case let .tick(time):
            ping(at: time, into: &actions)
            if let error = silence(at: time) { fail(error, into: &actions) }
        case let .sendStalled(destination, since, time):
            ping(at: time, into: &actions)
            let waited = time - since
            guard waited > spec.timeout else { break }
            switch destination {
            case .hub: fail(.hubSilent(gangID: spec.gangID, rank: spec.rank, hub: spec.hubEndpoint, seconds: waited),
                            into: &actions)
            case .right: fail(.peerSilent(gangID: spec.gangID, rank: spec.rank, peer: spec.rightRank, seconds: waited),
                              into: &actions)
            }
        case .cancelled:
            fail(.cancelled(gangID: spec.gangID, rank: spec.rank), into: &actions)
        case let .failed(error):
            fail(error, into: &actions)
        }
        return actions
    }

    // MARK: arrivals

    private mutating func receive(_ frame: FrameHeader, from source: Source, bytes: [UInt8], at time: Double,
                                  into actions: inout [Action]) {
        guard frame.gangID == spec.gangID, Int(frame.gangSize) == spec.size else {
            actions.append(.drop(reason: "a frame of gang \(frame.gangID)"))
            return
        }
        switch source {
        case .hub:
            lastHeardHub = time
            switch frame.type {
            case .ping, .joined, .peers, .abort, .reduced, .gathered:
                break
            case .join, .leave, .reduce, .gather, .ring:
                actions.append(.drop(reason: "unexpected \(frame.type) from the hub"))
                return
            }
        case .left:
            guard Int(frame.rank) == spec.leftRank else {
                actions.append(.drop(reason: "ring frame from rank \(frame.rank), not \(spec.leftRank)"))
                return
            }
            lastHeardLeft = time
            guard frame.type == .ping || frame.type == .ring else {
                actions.append(.drop(reason: "unexpected \(frame.type) on the ring"))
                return
            }
        }
        exchanges.countReceived(frame)
        switch frame.type {
        case .ping:
            break
        case .joined:
            if let ranks = try? Payload.decodeRanks(bytes) { joinedRanks = ranks }
        case .peers:
            rendezvous(bytes, at: time, into: &actions)
        case .abort:
            fail(.aborted(gangID: spec.gangID, rank: spec.rank, reason: String(decoding: bytes, as: UTF8.self)),
                 into: &actions)
        default:
            if frame.carriesFloats { actions.append(.keepPayload(from: source)) }
            exchanges.hold(frame, bytes: bytes, from: source)
            advance(at: time, into: &actions)
        }
    }

    /// The hub's peer list: checked, and once the rendezvous is complete, the ring is connected and the member is
    /// ready.
    private mutating func rendezvous(_ bytes: [UInt8], at time: Double, into actions: inout [Action]) {
        let list: [Payload.Peer]
        do {
            list = try Payload.decodePeers(bytes)
        } catch {
            return fail(.protocolViolation(gangID: spec.gangID, rank: spec.rank, detail: "peer list: \(error)"),
                        into: &actions)
        }
        guard list.count == spec.size else {
            return fail(.protocolViolation(gangID: spec.gangID, rank: spec.rank,
                                           detail: "the hub sent \(list.count) endpoints for a gang of \(spec.size)"),
                        into: &actions)
        }
        guard case .joining = stage else { return }
        peers = list.map(\.endpoint)
        stage = .ready
        lastHeardLeft = time
        if spec.topology == .ring, spec.size > 1 {
            let right = list[spec.rightRank]
            guard spec.curve == nil || !right.publicKey.isEmpty else {
                return fail(.protocolViolation(gangID: spec.gangID, rank: spec.rank,
                                               detail: "rank \(spec.rightRank) joined without a CURVE key; every member of an encrypted gang needs keys"),
                            into: &actions)
            }
            actions.append(.connectRing(rank: spec.rightRank, endpoint: right.endpoint,
                                        serverKey: spec.curve == nil ? nil : right.publicKey))
            ringConnected = true
        }
        actions.append(.ready)
        advance(at: time, into: &actions)
    }

    /// Starts the jobs that may start and lets running ones take the frames held for them; leaves when closing
    /// and nothing is left to do.
    private mutating func advance(at time: Double, into actions: inout [Action]) {
        guard stage == .ready else { return }
        if let error = exchanges.advance(at: time, into: &actions) {
            return fail(error, into: &actions)
        }
        if closing, exchanges.isIdle { leave(into: &actions) }
    }

    // MARK: time and failure

    /// Heartbeats to the hub and, once connected, to the right neighbour, every `GangSpec.heartbeatInterval`.
    private mutating func ping(at time: Double, into actions: inout [Action]) {
        if let lastPing, time - lastPing < spec.heartbeatInterval { return }
        lastPing = time
        let ping = controlHeader(.ping)
        actions.append(.notify(ping, [], to: .hub))
        if ringConnected { actions.append(.notify(ping, [], to: .right)) }
    }

    /// The error of a wait that has lasted longer than the timeout: for the peer list (naming the ranks the hub
    /// has not seen join), for the hub's results, for the left neighbour's segments, or for libzmq to give back
    /// values lent for the right neighbour.
    private func silence(at time: Double) -> GangError? {
        switch stage {
        case .joining(let since):
            guard time - since > spec.timeout else { return nil }
            return .rendezvousTimeout(gangID: spec.gangID, rank: spec.rank,
                                      missingRanks: (0..<spec.size).filter { !joinedRanks.contains($0) },
                                      seconds: time - since, hub: spec.hubEndpoint)
        case .ready:
            let waits = exchanges.waits
            if waits.hub, time - lastHeardHub > spec.timeout {
                return .hubSilent(gangID: spec.gangID, rank: spec.rank, hub: spec.hubEndpoint, seconds: time - lastHeardHub)
            }
            if waits.left, time - lastHeardLeft > spec.timeout {
                return .peerSilent(gangID: spec.gangID, rank: spec.rank, peer: spec.leftRank, seconds: time - lastHeardLeft)
            }
            if let since = waits.lentValuesSince, time - since > spec.timeout {
                return .peerSilent(gangID: spec.gangID, rank: spec.rank, peer: spec.rightRank, seconds: time - since)
            }
            return nil
        case .created, .failed, .left:
            return nil
        }
    }

    /// Fails the member; unless the hub itself aborted the gang, it is told why (and aborts it for the others).
    private mutating func fail(_ error: GangError, into actions: inout [Action]) {
        stage = .failed
        actions.append(.fail(error))
        if case .aborted = error { return }
        let reason = Array(error.description.utf8)
        actions.append(.notify(controlHeader(.abort, payloadLength: reason.count), reason, to: .hub))
    }

    private mutating func close(into actions: inout [Action]) {
        switch stage {
        case .failed: leave(into: &actions)
        case .left: break
        case .ready where exchanges.isIdle: leave(into: &actions)
        case .created, .joining, .ready: closing = true
        }
    }

    private mutating func leave(into actions: inout [Action]) {
        stage = .left
        actions.append(.notify(controlHeader(.leave), [], to: .hub))
    }

    /// The header of a JOIN, PING, ABORT or LEAVE of this member.
    private func controlHeader(_ type: FrameType, payloadLength: Int = 0) -> FrameHeader {
        FrameHeader(type: type, gangID: spec.gangID, rank: UInt16(spec.rank), gangSize: UInt16(spec.size),
                    payloadLength: UInt32(payloadLength))
    }
}
