import FerdSystem
import Foundation
import FerdZeroMQ
import Logging

/// The communication thread of a gang member: the I/O shell of `GangProtocol`, which makes every protocol
/// decision. It owns the sockets, the clock, the jobs' memory and the float data path; it feeds the protocol
/// what happens — jobs submitted, frames received, time passing, a send libzmq cannot queue yet, cancellation,
/// its own socket failures — and carries out the actions it returns, in order. Floats are never copied into
/// or out of Swift arrays: float32 goes out straight from the jobs' storage, float16 through pooled buffers,
/// and received payloads are summed, converted or copied into the storage from their messages.
final class CommunicationEngine {
    private let spec: GangSpec
    private let shared: GangShared
    private let logger: Logger
    private let cancelled: @Sendable () -> Bool
    private var sockets: MemberSockets
    private var state: GangProtocol
    /// The jobs submitted and not yet completed, by the id the protocol knows them by.
    private var jobs: [Int: GangJob] = [:]
    private var nextJobID = 0
    private var kept = KeptPayloads()
    /// Float16: the bytes the last `combine` left to send (`GangProtocol.Outgoing.combined`).
    private var combined: ZMQMessage?
    private var outbox = Outbox()
    /// Memory of outgoing float16 payloads, reused once libzmq has sent them.
    private let wireBuffers: WireBufferPool
    /// Messages sent from the jobs' float storage without copying that libzmq still reads.
    private let lentStorage = LentCounter()
    /// Frames that break the protocol are logged sparingly (anyone may connect to the ring endpoint); the
    /// member's only peers are never ignored: a gang that cannot exchange fails on its timeouts instead.
    private var traffic = TrafficGuard(configuration: .neverIgnoring)
    /// Where the frame being handled came from, for what is dropped of it.
    private var arrivalSource = GangProtocol.Source.hub

    init(spec: GangSpec, context: ZMQContext, shared: GangShared, logger: Logger,
         cancelled: @escaping @Sendable () -> Bool) throws(ZMQError) {
        self.spec = spec
        self.shared = shared
        self.logger = logger
        self.cancelled = cancelled
        wireBuffers = WireBufferPool(minimumCapacity: spec.chunkElements * spec.precision.bytesPerElement)
        sockets = try MemberSockets(spec: spec, context: context)
        state = GangProtocol(spec: spec)
    }

    /// Joins, runs jobs until closed, then leaves; a failure is recorded in `shared` and told to the hub.
    func run() {
        perform(state.handle(.started(ringEndpoint: sockets.ringEndpoint, at: MonotonicClock.seconds())))
        while state.isActive {
            let (submitted, closing) = shared.takeJobs()
            for job in submitted { submit(job) }
            if closing { perform(state.handle(.closeRequested)) }
            turn()
        }
        if state.hasFailed {
            shared.waitForClose()
            perform(state.handle(.closeRequested))
        }
        sockets.close()
    }

    private func submit(_ job: GangJob) {
        let id = nextJobID
        nextJobID += 1
        jobs[id] = job
        perform(state.handle(.submitted(job.exchange, id: id, at: MonotonicClock.seconds())))
    }

    /// One turn of the loop: retries a stalled send, waits as the protocol's state calls for (briefly while a
    /// send is stalled or nothing runs, so that jobs start at once), takes in every frame that arrived, then
    /// reports the time, or the stalled send, and cancellation.
    private func turn() {
        do throws(GangError) {
            try flushOutbox()
            let milliseconds: Int
            if outbox.stalled != nil {
                milliseconds = 1
            } else {
                switch state.awaiting {
                case .nothing:
                    return
                case .jobs:
                    milliseconds = 1
                case .frames:
                    milliseconds = 20
                case .lentValues:
                    if lentStorage.waitUntilNone(milliseconds: 1) {
                        perform(state.handle(.lentValuesReturned(at: MonotonicClock.seconds())))
                    }
                    milliseconds = 0
                }
            }
            try receive(waitingUpTo: milliseconds)
        } catch {
            perform(state.handle(.failed(error)))
        }
        let now = MonotonicClock.seconds()
        if let stalled = outbox.stalled {
            perform(state.handle(.sendStalled(to: stalled.destination, since: stalled.since, at: now)))
        } else {
            perform(state.handle(.tick(at: now)))
        }
        log(traffic.tick(at: now))
        if cancelled() { perform(state.handle(.cancelled)) }
    }

    // MARK: receiving

    private func receive(waitingUpTo milliseconds: Int) throws(GangError) {
        do throws(ZMQError) {
            for index in try ZMQSocket.poll(sockets.receiving, timeoutMilliseconds: milliseconds) {
                let source: GangProtocol.Source = index == 0 ? .hub : .left
                while state.isActive, let frames = try sockets.receiving[index].receiveMessage() {
                    dispatch(frames, from: source)
                }
            }
        } catch {
            throw .transport(gangID: spec.gangID, rank: spec.rank, detail: "\(error)")
        }
    }

    private func dispatch(_ frames: [ZMQMessage], from source: GangProtocol.Source) {
        arrivalSource = source
        let frame: FrameHeader
        do throws(FrameError) {
            guard frames.count == 2 else { throw .wrongFrameCount(frames.count) }
            frame = try FrameHeader.decode(frames[0].bytes, payloadCount: frames[1].count)
        } catch {
            return dropped("malformed", "malformed frame: \(error)")
        }
        let payload = frames[1]
        let event = GangProtocol.Event.received(frame, from: source, bytes: frame.carriesFloats ? [] : payload.bytes,
                                                at: MonotonicClock.seconds())
        perform(state.handle(event), arrived: payload)
    }

    // MARK: actions

    /// Carries out the protocol's actions in order; those that touch the sockets or the jobs wait behind a send
    /// libzmq could not queue yet. A socket failure is reported back to the protocol.
    private func perform(_ actions: [GangProtocol.Action], arrived payload: ZMQMessage? = nil) {
        do throws(GangError) {
            for action in actions {
                if outbox.isEmpty || action.takesEffectAtOnce {
                    try carryOut(action, arrived: payload)
                } else {
                    outbox.waiting.append(action)
                }
            }
        } catch {
            perform(state.handle(.failed(error)))
        }
    }

    /// Retries the stalled send and, once libzmq has queued it, carries out the actions that waited behind it.
    private func flushOutbox() throws(GangError) {
        if let stalled = outbox.stalled {
            guard try attempt(stalled.send) else { return }
            outbox.stalled = nil
        }
        while outbox.stalled == nil, !outbox.waiting.isEmpty {
            try carryOut(outbox.waiting.removeFirst(), arrived: nil)
        }
    }

    private func carryOut(_ action: GangProtocol.Action, arrived payload: ZMQMessage?) throws(GangError) {
        switch action {
        case let .send(header, outgoing, destination):
            try send(header, outgoing, to: destination)
        case let .notify(header, bytes, destination):
            guard let socket = sockets.socket(to: destination) else { return }
            _ = bytes.withUnsafeBytes { try? socket.send(header: header.encoded(), payload: $0) }
        case let .connectRing(rank, endpoint, serverKey):
            do throws(ZMQError) {
                try sockets.connectRing(to: endpoint, serverKey: serverKey)
            } catch {
                throw .transport(gangID: spec.gangID, rank: spec.rank,
                                 detail: "cannot connect to rank \(rank) at \(endpoint): \(error)")
            }
        case .ready:
            shared.setReady()
        case let .keepPayload(source):
            if let payload { kept.append(payload, from: source) }
        case let .storeResult(id, offset, count):
            Kernels.readWire(kept.next(from: .hub), count: count, precision: spec.precision, adding: false,
                             into: values(of: id) + offset)
        case let .combine(id, offset, count, combination):
            combine(kept.next(from: .left), count: count, into: values(of: id) + offset, combination)
        case let .complete(id, completion):
            jobs[id] = nil
            shared.complete(completion.counters, inStep: completion.inStep, gathered: completion.gathered)
        case let .drop(reason):
            dropped("unexpected", reason)
        case let .fail(error):
            shared.fail(error)
            outbox = Outbox()
        }
    }

    private func dropped(_ kind: String, _ detail: String) {
        let peer = arrivalSource == .hub ? "the gradient hub" : "its ring endpoint"
        log(traffic.dropped(TrafficGuard.Drop(peer: peer, kind: kind, detail: detail), at: MonotonicClock.seconds()))
    }

    private func log(_ reports: [TrafficGuard.Report]) {
        for report in reports {
            logger.warning("gang \(spec.gangID) rank \(spec.rank): \(report.message)")
        }
    }

    /// The values of job `id`: its floats from its offset on.
    private func values(of id: Int) -> UnsafeMutablePointer<Float> {
        let job = jobs[id]!
        return job.storage!.pointer + job.offset
    }

    // MARK: the data path

    /// Sends a frame, its payload without copying the floats; when libzmq cannot queue it yet, it waits in the
    /// outbox and is retried on every turn.
    private func send(_ header: FrameHeader, _ outgoing: GangProtocol.Outgoing,
                      to destination: GangProtocol.Destination) throws(GangError) {
        let body: PreparedSend.Body
        switch outgoing {
        case .bytes(let bytes):
            body = .bytes(bytes)
        case let .values(id, offset, count, tracked):
            body = .message(wireMessage(values(of: id) + offset, count: count, storage: jobs[id]!.storage!,
                                        tracked: tracked))
        case .combined:
            body = .message(combined!)
            combined = nil
        }
        let prepared = PreparedSend(socket: sockets.socket(to: destination)!, type: header.type,
                                    header: header.encoded(), body: body)
        if try !attempt(prepared) {
            outbox.stalled = (prepared, destination, MonotonicClock.seconds())
        }
    }

    private func attempt(_ send: PreparedSend) throws(GangError) -> Bool {
        do throws(ZMQError) {
            return try send.attempt()
        } catch {
            throw .transport(gangID: spec.gangID, rank: spec.rank, detail: "sending \(send.type): \(error)")
        }
    }

    /// The wire bytes of `count` floats of `storage` as a message libzmq takes without copying: float32 lent
    /// from the storage (`tracked`: counted in `lentStorage` until libzmq is done), float16 encoded into a
    /// pooled buffer.
    private func wireMessage(_ values: UnsafePointer<Float>, count: Int, storage: FloatStorage,
                             tracked: Bool) -> ZMQMessage {
        switch spec.precision {
        case .float32:
            if tracked {
                lentStorage.lend()
                return storage.message(values, count: count) { [lentStorage] in lentStorage.giveBack() }
            }
            return storage.message(values, count: count) {}
        case .float16:
            let buffer = wireBuffers.take(2 * count)
            HalfPrecision.encode(values, count: count, into: buffer.pointer)
            return wireBuffers.message(buffer, bytes: 2 * count)
        }
    }

    /// Combines a received ring segment with `count` values at `destination`, reading the message in place.
    /// Float16 leaves the bytes to send next in `combined`: the sums, encoded in the same pass into a pooled
    /// buffer (after the last reduce-scatter step divided and rounded to the wire values every member uses), or
    /// in the all-gather the received message itself, to forward unchanged.
    private func combine(_ payload: ZMQMessage, count: Int, into destination: UnsafeMutablePointer<Float>,
                         _ combination: GangProtocol.Combination) {
        let finalDivisor: Float?
        switch combination {
        case .copy:
            Kernels.readWire(payload, count: count, precision: spec.precision, adding: false, into: destination)
            if spec.precision == .float16 { combined = payload }
            return
        case .add: finalDivisor = nil
        case .addDividing(let divisor): finalDivisor = divisor
        }
        switch spec.precision {
        case .float32:
            payload.withUnsafeBytes { source in
                guard let base = source.baseAddress else { return }
                if let finalDivisor {
                    Kernels.addDividing(base, count: count, into: destination, by: finalDivisor)
                } else {
                    Kernels.readWire(base, count: count, precision: .float32, adding: true, into: destination)
                }
            }
        case .float16:
            let buffer = wireBuffers.take(2 * count)
            payload.withUnsafeBytes { source in
                guard let base = source.baseAddress else { return }
                if let finalDivisor {
                    HalfPrecision.decodeAddingFinal(base, count: count, into: destination, dividingBy: finalDivisor,
                                                    encodingInto: buffer.pointer)
                } else {
                    HalfPrecision.decodeAdding(base, count: count, into: destination, encodingInto: buffer.pointer)
                }
            }
            combined = wireBuffers.message(buffer, bytes: 2 * count)
        }
    }
}

extension GangProtocol.Action {
    /// Whether the shell carries the action out even while a send waits: it touches neither a job nor the order
    /// of frames (bookkeeping, the log, best-effort frames, failure).
    fileprivate var takesEffectAtOnce: Bool {
        switch self {
        case .notify, .keepPayload, .drop, .fail: true
        case .send, .connectRing, .ready, .storeResult, .combine, .complete: false
        }
    }
}

/// A member's sockets: the DEALER to the hub and, for the ring, the PULL that receives from the left neighbour
/// and the PUSH to the right one, connected once the peers are known.
private struct MemberSockets {
    let context: ZMQContext
    let dealer: ZMQSocket
    let pull: ZMQSocket?
    private(set) var push: ZMQSocket?
    /// Where `pull` listens ("" in the star).
    let ringEndpoint: String
    /// The member's CURVE keys, for the ring's PUSH; nil without CURVE.
    let keyPair: CurveKeyPair?
    /// The sockets that receive, the hub's first.
    let receiving: [ZMQSocket]

    init(spec: GangSpec, context: ZMQContext) throws(ZMQError) {
        self.context = context
        keyPair = spec.curve?.keyPair
        dealer = try ZMQSocket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 2000)
        try dealer.setHighWaterMarks(send: 0, receive: 0)
        if let curve = spec.curve {
            try dealer.setCurveClient(serverKey: curve.hubPublicKey, keyPair: curve.keyPair)
        }
        try dealer.connect(spec.hubEndpoint)
        if spec.topology == .ring {
            let socket = try ZMQSocket(context, type: .pull)
            try socket.setLinger(milliseconds: 0)
            try socket.setHighWaterMarks(send: 0, receive: 0)
            if let curve = spec.curve {
                try socket.setCurveServer(secretKey: curve.keyPair.secretKey)
            }
            try socket.bind(spec.ringBindAddress)
            ringEndpoint = try socket.lastEndpoint()
            pull = socket
            receiving = [dealer, socket]
        } else {
            ringEndpoint = ""
            pull = nil
            receiving = [dealer]
        }
    }

    func socket(to destination: GangProtocol.Destination) -> ZMQSocket? {
        switch destination {
        case .hub: dealer
        case .right: push
        }
    }

    mutating func connectRing(to endpoint: String, serverKey: String?) throws(ZMQError) {
        let socket = try ZMQSocket(context, type: .push)
        try socket.setLinger(milliseconds: 2000)
        try socket.setHighWaterMarks(send: 0, receive: 0)
        if let serverKey, let keyPair {
            try socket.setCurveClient(serverKey: serverKey, keyPair: keyPair)
        }
        try socket.connect(endpoint)
        push = socket
    }

    func close() {
        push?.close()
        pull?.close()
        dealer.close()
    }
}

/// Float payloads received and kept for the protocol's `storeResult` (from the hub) and `combine` (from the
/// left neighbour), oldest first.
private struct KeptPayloads {
    private var hub: [ZMQMessage] = []
    private var ring: [ZMQMessage] = []

    mutating func append(_ payload: ZMQMessage, from source: GangProtocol.Source) {
        switch source {
        case .hub: hub.append(payload)
        case .left: ring.append(payload)
        }
    }

    mutating func next(from source: GangProtocol.Source) -> ZMQMessage {
        switch source {
        case .hub: hub.removeFirst()
        case .left: ring.removeFirst()
        }
    }
}

/// A frame ready to go, its header encoded: the payload as bytes (copied by libzmq) or as a message libzmq
/// takes without copying.
private struct PreparedSend {
    enum Body {
        case bytes([UInt8])
        case message(ZMQMessage)
    }

    let socket: ZMQSocket
    let type: FrameType
    let header: [UInt8]
    let body: Body

    /// Queues the frame; false, having queued nothing, while libzmq cannot queue it (its peer is not connected).
    func attempt() throws(ZMQError) -> Bool {
        switch body {
        case .bytes(let bytes):
            let queued = bytes.withUnsafeBytes { raw in
                Result { () throws(ZMQError) -> Bool in try socket.send(header: header, payload: raw) }
            }
            return try queued.get()
        case .message(let message):
            return try socket.send([header], payload: message)
        }
    }
}

/// Sends libzmq could not queue yet: the stalled one, retried on every turn since `since`, and the actions that
/// wait behind it, in order.
private struct Outbox {
    var stalled: (send: PreparedSend, destination: GangProtocol.Destination, since: Double)?
    var waiting: [GangProtocol.Action] = []

    var isEmpty: Bool { stalled == nil && waiting.isEmpty }
}

/// Messages lent to libzmq, counted until it gives them back (on its I/O thread).
final class LentCounter: @unchecked Sendable {
    private let condition = NSCondition()
    private var lent = 0

    func lend() { condition.withLock { lent += 1 } }

    func giveBack() {
        condition.withLock {
            lent -= 1
            if lent == 0 { condition.broadcast() }
        }
    }

    /// True once nothing is lent; false if something still is after `milliseconds`.
    func waitUntilNone(milliseconds: Int) -> Bool {
        condition.withLock {
            if lent > 0 { _ = condition.wait(until: Date(timeIntervalSinceNow: Double(milliseconds) / 1000)) }
            return lent == 0
        }
    }
}
