import FerdSystem
import Foundation
import FerdZeroMQ
import Logging

/// The communication thread of a gang member, the I/O shell of `GangProtocol`: owns its sockets, joins the gang,
/// runs the jobs in order (star through the hub or ring between members) moving the floats without copies, and
/// keeps heartbeats flowing while it waits; every protocol decision (rendezvous, liveness, retries, which frame an
/// operation accepts, the ring schedule) is the protocol's.
final class CommunicationEngine {
    private let spec: GangSpec
    private let shared: GangShared
    private let logger: Logger
    private let cancelled: @Sendable () -> Bool
    private let context: ZMQContext
    private let dealer: ZMQSocket
    private let pull: ZMQSocket?
    private var push: ZMQSocket?
    private let ringEndpoint: String
    private var state: GangProtocol
    private var hubQueue: [(FrameHeader, ZMQMessage)] = []
    private var ringQueue: [(FrameHeader, ZMQMessage)] = []
    private var counters = GangStatistics.Counters()
    /// Memory of outgoing float16 payloads, reused once libzmq has sent them.
    private let wireBuffers: WireBufferPool
    /// Messages sent from the jobs' float storage without copying that libzmq still reads.
    private let lentStorage = LentCounter()

    private var gangSize: UInt16 { UInt16(spec.size) }
    private var right: Int { state.right }

    init(spec: GangSpec, context: ZMQContext, shared: GangShared, logger: Logger,
         cancelled: @escaping @Sendable () -> Bool) throws(ZMQError) {
        self.spec = spec
        self.shared = shared
        self.logger = logger
        self.cancelled = cancelled
        self.context = context
        wireBuffers = WireBufferPool(minimumCapacity: spec.chunkElements * spec.precision.bytesPerElement)
        dealer = try ZMQSocket(context, type: .dealer)
        try dealer.setLinger(milliseconds: 2000)
        try dealer.setHighWaterMarks(send: 0, receive: 0)
        try dealer.connect(spec.hubEndpoint)
        if spec.topology == .ring {
            let socket = try ZMQSocket(context, type: .pull)
            try socket.setLinger(milliseconds: 0)
            try socket.setHighWaterMarks(send: 0, receive: 0)
            try socket.bind(spec.ringBindAddress)
            ringEndpoint = try socket.lastEndpoint()
            pull = socket
        } else {
            ringEndpoint = ""
            pull = nil
        }
        state = GangProtocol(spec: spec, at: MonotonicClock.seconds())
    }

    /// Joins, runs jobs until closed, then leaves; a failure is recorded in `shared` and told to the hub.
    func run() {
        do {
            try rendezvous()
            shared.setReady()
            while true {
                let (job, closing) = shared.take()
                if closing { break }
                guard let job else {
                    try pumpOnce(milliseconds: 1)
                    continue
                }
                try execute(job)
            }
        } catch {
            shared.fail(error)
            if case .aborted = error {} else {
                sendQuietly(dealer, FrameHeader(type: .abort, gangID: spec.gangID, rank: UInt16(spec.rank),
                                                gangSize: gangSize), payload: Array(error.description.utf8))
            }
            shared.waitForClose()
        }
        sendQuietly(dealer, FrameHeader(type: .leave, gangID: spec.gangID, rank: UInt16(spec.rank), gangSize: gangSize),
                    payload: [])
        push?.close()
        pull?.close()
        dealer.close()
    }

    // MARK: rendezvous

    private func rendezvous() throws(GangError) {
        let start = MonotonicClock.seconds()
        let join = Payload.join(timeout: spec.timeout, ringEndpoint: ringEndpoint)
        try sendBytes(dealer, FrameHeader(type: .join, gangID: spec.gangID, rank: UInt16(spec.rank), gangSize: gangSize),
                      join, peer: nil)
        while state.peers == nil {
            try pumpOnce(milliseconds: 20)
            try state.checkRendezvous(startedAt: start, at: MonotonicClock.seconds())
        }
        let peers = state.peers!
        if spec.topology == .ring, spec.size > 1 {
            do {
                let socket = try ZMQSocket(context, type: .push)
                try socket.setLinger(milliseconds: 2000)
                try socket.setHighWaterMarks(send: 0, receive: 0)
                try socket.connect(peers[right])
                push = socket
            } catch {
                throw .transport(gangID: spec.gangID, rank: spec.rank,
                                 detail: "cannot connect to rank \(right) at \(peers[right]): \(error)")
            }
        }
        state.ringConnected(at: MonotonicClock.seconds())
    }

    // MARK: jobs

    private func execute(_ job: GangJob) throws(GangError) {
        let start = MonotonicClock.seconds()
        counters = GangStatistics.Counters()
        switch job {
        case .reduce(let storage, let offset, let count, let average, let step, let bucket, let inStep):
            let values = storage.pointer + offset
            if spec.size > 1 {
                switch spec.topology {
                case .star:
                    try starReduce(startStarReduction(storage, values, count: count, average: average, step: step,
                                                      bucket: bucket, inStep: inStep, start: start))
                    return
                case .ring:
                    try ringReduce(storage, values, count: count, average: average, step: step, bucket: bucket)
                    // The caller owns the storage again once the job completes: libzmq must be done reading it
                    // (the last all-gather sends are not followed by anything that depends on them).
                    try awaitLentStorage()
                }
            }
            counters.communicationSeconds = MonotonicClock.seconds() - start
            shared.complete(counters, inStep: inStep)
        case .gather(let bytes, let step):
            let blocks: [[UInt8]]
            if spec.size == 1 {
                blocks = [bytes]
            } else {
                switch spec.topology {
                case .star: blocks = try starGather(bytes, step: step)
                case .ring: blocks = try ringGather(bytes, step: step)
                }
            }
            counters.communicationSeconds = MonotonicClock.seconds() - start
            shared.complete(counters, inStep: false, gathered: blocks)
        }
    }

    private func header(_ type: FrameType, step: UInt64, bucket: UInt32 = 0, part: UInt32 = 0, segment: UInt32 = 0,
                        flags: UInt8 = 0) -> FrameHeader {
        FrameHeader(type: type, precision: spec.precision, flags: flags, gangID: spec.gangID, step: step,
                    bucket: bucket, part: part, segment: segment, rank: UInt16(spec.rank), gangSize: gangSize)
    }

    /// A star reduction whose chunks are with the hub and whose results are awaited.
    private struct StarReduction {
        var values: UnsafeMutablePointer<Float>
        var count: Int
        var step: UInt64
        var bucket: UInt32
        var inStep: Bool
        var parts: Int
        var received = 0
        var start: Double
    }

    /// Star: sends every chunk of a bucket to the hub.
    /// Float32 chunks go out from the storage without copying: the hub answers a chunk only once it has
    /// received it from every member, so the results never overwrite bytes that libzmq is still sending.
    private func startStarReduction(_ storage: FloatStorage, _ values: UnsafeMutablePointer<Float>, count: Int,
                                    average: Bool, step: UInt64, bucket: UInt32, inStep: Bool,
                                    start: Double) throws(GangError) -> StarReduction {
        let chunk = spec.chunkElements
        let parts = (count + chunk - 1) / chunk
        let flags = average ? FrameHeader.Flags.average : 0
        for part in 0..<parts {
            let range = (part * chunk)..<min(count, (part + 1) * chunk)
            try sendFloats(dealer, header(.reduce, step: step, bucket: bucket, part: UInt32(part), flags: flags),
                           storage, values + range.lowerBound, count: range.count, peer: nil)
        }
        return StarReduction(values: values, count: count, step: step, bucket: bucket, inStep: inStep, parts: parts,
                             start: start)
    }

    /// Star: takes in the hub's identical results of `first`, and keeps the hub busy meanwhile: while they
    /// arrive, the chunks of the next queued bucket already go out (at most two buckets in flight). The hub
    /// answers in the order the chunks were sent, so results come bucket by bucket; jobs complete in order.
    private func starReduce(_ first: StarReduction) throws(GangError) {
        var inFlight = [first]
        var lastCompletion = first.start
        while let head = inFlight.first {
            if inFlight.count < 2,
               case .reduce(let storage, let offset, let count, let average, let step, let bucket, let inStep)? =
                   shared.takeReduction() {
                inFlight.append(try startStarReduction(storage, storage.pointer + offset, count: count, average: average,
                                                       step: step, bucket: bucket, inStep: inStep,
                                                       start: MonotonicClock.seconds()))
            }
            let chunk = spec.chunkElements
            let (reply, payload) = try nextFromHub()
            let part = Int(reply.part)
            let elements = part < head.parts ? min(head.count, (part + 1) * chunk) - part * chunk : 0
            try state.expectReduced(reply, payloadCount: payload.count, step: head.step, bucket: head.bucket,
                                    parts: head.parts, bytes: { _ in elements * self.spec.precision.bytesPerElement })
            Kernels.readWire(payload, count: elements, precision: spec.precision, adding: false,
                             into: head.values + part * chunk)
            inFlight[0].received += 1
            if inFlight[0].received == head.parts {
                inFlight.removeFirst()
                let now = MonotonicClock.seconds()
                counters.communicationSeconds = now - max(head.start, lastCompletion)
                lastCompletion = now
                shared.complete(counters, inStep: head.inStep)
                counters = GangStatistics.Counters()
            }
        }
    }

    private func starGather(_ bytes: [UInt8], step: UInt64) throws(GangError) -> [[UInt8]] {
        try sendBytes(dealer, header(.gather, step: step), bytes, peer: nil)
        let (reply, payload) = try nextFromHub()
        guard reply.type == .gathered, reply.step == step, let blocks = try? Payload.decodeBlocks(payload.bytes),
              blocks.count == spec.size else {
            throw .protocolViolation(gangID: spec.gangID, rank: spec.rank,
                                     detail: "expected the allGather of exchange \(step), got \(reply.type) of \(reply.step)")
        }
        return blocks
    }

    /// Ring all-reduce of pieces of at most k chunks: reduce-scatter, then all-gather of the final values.
    /// Segment s is summed along s, s+1, …, s−1 (mod k) and finished by rank s−1, which alone computes its
    /// final (averaged, wire-rounded) value; everyone else receives exactly those bytes.
    private func ringReduce(_ storage: FloatStorage, _ values: UnsafeMutablePointer<Float>, count: Int, average: Bool,
                            step: UInt64, bucket: UInt32) throws(GangError) {
        let k = spec.size
        let rank = spec.rank
        let pieceLimit = k * spec.chunkElements
        var pieceStart = 0
        var part: UInt32 = 0
        while pieceStart < count {
            let length = min(pieceLimit, count - pieceStart)
            let piece = values + pieceStart
            func segment(_ index: Int) -> Range<Int> { (index * length / k)..<((index + 1) * length / k) }
            var next = RingOutgoing.storage
            for phase in 0..<2 {
                let flags = phase == 0 ? 0 : FrameHeader.Flags.gatherPhase
                for j in 0..<(k - 1) {
                    let (sent, received) = state.ringStep(j, phase: phase)
                    let frame = header(.ring, step: step, bucket: bucket, part: part, segment: UInt32(sent), flags: flags)
                    switch next {
                    case .storage:
                        let out = segment(sent)
                        try sendFloats(push!, frame, storage, piece + out.lowerBound, count: out.count, peer: right,
                                       tracked: true)
                    case .message(let payload):
                        try send(push!, frame, message: payload, peer: right)
                    }
                    let into = segment(received)
                    let payload = try nextFromLeft(step: step, bucket: bucket, part: part, segment: received,
                                                   flags: flags, bytes: into.count * spec.precision.bytesPerElement)
                    if phase == 1 {
                        Kernels.readWire(payload, count: into.count, precision: spec.precision, adding: false,
                                         into: piece + into.lowerBound)
                        // Float16 forwards the bytes rather than encoding them again; float32 sends from the
                        // storage (the same copy), which lets the received buffer go at once.
                        next = spec.precision == .float16 ? .message(payload) : .storage
                    } else {
                        // The last reduce-scatter step completes this member's own segment, (rank + 1) mod k.
                        next = accumulate(payload, count: into.count, into: piece + into.lowerBound,
                                          finalDivisor: j == k - 2 ? (average ? Float(k) : 1) : nil)
                    }
                }
            }
            pieceStart += length
            part += 1
        }
    }

    /// How a ring step's segment goes out: from the float storage (float32, without copying; float16 encoded),
    /// or as a ready message: the float16 bytes the previous step encoded while summing, or (all-gather) the
    /// message received, forwarded unchanged.
    private enum RingOutgoing {
        case storage
        case message(ZMQMessage)
    }

    /// Adds a received reduce-scatter segment into `destination`, reading the message in place. With
    /// `finalDivisor` the sums are complete: divided (by 1 for a plain sum, which is exact) and, for float16,
    /// rounded to their wire values, which every member then uses. Float16 also encodes the bytes to send next
    /// in the same pass, into a pooled buffer sent without copying.
    private func accumulate(_ payload: ZMQMessage, count: Int, into destination: UnsafeMutablePointer<Float>,
                            finalDivisor: Float?) -> RingOutgoing {
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
            return .storage
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
            return .message(wireBuffers.message(buffer, bytes: 2 * count))
        }
    }

    private func ringGather(_ bytes: [UInt8], step: UInt64) throws(GangError) -> [[UInt8]] {
        let k = spec.size
        var blocks = [[UInt8]](repeating: [], count: k)
        blocks[spec.rank] = bytes
        for j in 0..<(k - 1) {
            let (sent, received) = state.gatherStep(j)
            try sendBytes(push!, header(.ring, step: step, segment: UInt32(sent), flags: FrameHeader.Flags.bytes),
                          blocks[sent], peer: right)
            blocks[received] = try nextFromLeft(step: step, bucket: 0, part: 0, segment: received,
                                                flags: FrameHeader.Flags.bytes, bytes: nil).bytes
        }
        return blocks
    }

    // MARK: waiting and sending

    private func nextFromHub() throws(GangError) -> (FrameHeader, ZMQMessage) {
        while hubQueue.isEmpty {
            try pumpOnce(milliseconds: 20)
            if hubQueue.isEmpty { try state.checkHub(at: MonotonicClock.seconds()) }
        }
        return hubQueue.removeFirst()
    }

    private func nextFromLeft(step: UInt64, bucket: UInt32, part: UInt32, segment: Int, flags: UInt8,
                              bytes: Int?) throws(GangError) -> ZMQMessage {
        while ringQueue.isEmpty {
            try pumpOnce(milliseconds: 20)
            if ringQueue.isEmpty { try state.checkLeft(at: MonotonicClock.seconds()) }
        }
        let (frame, payload) = ringQueue.removeFirst()
        try state.expectSegment(frame, payloadCount: payload.count, step: step, bucket: bucket, part: part,
                                segment: segment, flags: flags, precision: spec.precision, bytes: bytes)
        return payload
    }

    /// Sends `count` floats of `storage`: float32 without copying (`tracked`: counted in `lentStorage` until
    /// libzmq is done), float16 encoded into a pooled buffer, also sent without copying.
    private func sendFloats(_ socket: ZMQSocket, _ header: FrameHeader, _ storage: FloatStorage,
                            _ values: UnsafePointer<Float>, count: Int, peer: Int?,
                            tracked: Bool = false) throws(GangError) {
        let message: ZMQMessage
        switch spec.precision {
        case .float32:
            if tracked {
                lentStorage.lend()
                message = storage.message(values, count: count) { [lentStorage] in lentStorage.giveBack() }
            } else {
                message = storage.message(values, count: count) {}
            }
        case .float16:
            let buffer = wireBuffers.take(2 * count)
            HalfPrecision.encode(values, count: count, into: buffer.pointer)
            message = wireBuffers.message(buffer, bytes: 2 * count)
        }
        try send(socket, header, message: message, peer: peer)
    }

    /// Waits until libzmq has given back every message sent from a job's storage, taking in input, sending
    /// heartbeats and checking for cancellation meanwhile; the peer is silent if that takes `timeout`.
    private func awaitLentStorage() throws(GangError) {
        let start = MonotonicClock.seconds()
        while !lentStorage.waitUntilNone(milliseconds: 1) {
            try pumpOnce(milliseconds: 0)
            let waited = MonotonicClock.seconds() - start
            if waited > spec.timeout {
                throw .peerSilent(gangID: spec.gangID, rank: spec.rank, peer: right, seconds: waited)
            }
        }
    }

    private func sendBytes(_ socket: ZMQSocket, _ header: FrameHeader, _ bytes: [UInt8], peer: Int?) throws(GangError) {
        let result: GangError? = bytes.withUnsafeBytes { raw in
            do throws(GangError) {
                try send(socket, header, payload: raw, peer: peer)
                return nil
            } catch {
                return error
            }
        }
        if let result { throw result }
    }

    /// Sends one message, retrying while it cannot be queued (peer not connected yet) up to the timeout.
    private func send(_ socket: ZMQSocket, _ header: FrameHeader, payload: UnsafeRawBufferPointer,
                      peer: Int?) throws(GangError) {
        try sendRetrying(header, payloadCount: payload.count, peer: peer) { encoded throws(ZMQError) in
            try socket.send(header: encoded, payload: payload)
        }
    }

    /// Sends one message whose payload libzmq takes without copying, retrying like `send(_:_:payload:peer:)`.
    private func send(_ socket: ZMQSocket, _ header: FrameHeader, message: ZMQMessage, peer: Int?) throws(GangError) {
        try sendRetrying(header, payloadCount: message.count, peer: peer) { encoded throws(ZMQError) in
            try socket.send([encoded], payload: message)
        }
    }

    /// Calls `attempt` with the encoded header (its payload length set to `payloadCount`) until it has queued
    /// the message; between tries it keeps receiving and heartbeating, and it gives up after the timeout.
    private func sendRetrying(_ header: FrameHeader, payloadCount: Int, peer: Int?,
                              _ attempt: ([UInt8]) throws(ZMQError) -> Bool) throws(GangError) {
        var header = header
        header.payloadLength = UInt32(payloadCount)
        let encoded = header.encoded()
        let start = MonotonicClock.seconds()
        while true {
            do {
                if try attempt(encoded) {
                    counters.bytesSent += encoded.count + payloadCount
                    return
                }
            } catch {
                throw .transport(gangID: spec.gangID, rank: spec.rank, detail: "sending \(header.type): \(error)")
            }
            try state.checkRetry(to: peer, startedAt: start, at: MonotonicClock.seconds())
            try pumpOnce(milliseconds: 1)
        }
    }

    private func sendQuietly(_ socket: ZMQSocket?, _ header: FrameHeader, payload: [UInt8]) {
        guard let socket else { return }
        var header = header
        header.payloadLength = UInt32(payload.count)
        _ = payload.withUnsafeBytes { try? socket.send(header: header.encoded(), payload: $0) }
    }

    /// Waits up to `milliseconds` for input, takes in everything waiting, sends heartbeats when due and
    /// checks for cancellation.
    private func pumpOnce(milliseconds: Int) throws(GangError) {
        let sockets = pull.map { [dealer, $0] } ?? [dealer]
        do {
            for index in try ZMQSocket.poll(sockets, timeoutMilliseconds: milliseconds) {
                while let frames = try sockets[index].receiveMessage() { try dispatch(frames, fromHub: index == 0) }
            }
        } catch let error as GangError {
            throw error
        } catch {
            throw .transport(gangID: spec.gangID, rank: spec.rank, detail: "\(error)")
        }
        if state.pingDue(at: MonotonicClock.seconds()) {
            let ping = FrameHeader(type: .ping, gangID: spec.gangID, rank: UInt16(spec.rank), gangSize: gangSize)
            sendQuietly(dealer, ping, payload: [])
            sendQuietly(push, ping, payload: [])
        }
        if cancelled() { throw .cancelled(gangID: spec.gangID, rank: spec.rank) }
    }

    private func dispatch(_ frames: [ZMQMessage], fromHub: Bool) throws(GangError) {
        let frame: FrameHeader
        do throws(FrameError) {
            guard frames.count == 2 else { throw .wrongFrameCount(frames.count) }
            frame = try FrameHeader.decode(frames[0].bytes, payloadCount: frames[1].count)
        } catch {
            logger.warning("gang \(spec.gangID) rank \(spec.rank): dropped a malformed frame: \(error)")
            return
        }
        let payload = frames[1]
        let arrival = try state.receive(frame, controlPayload: { payload.bytes }, fromHub: fromHub, at: MonotonicClock.seconds())
        if case let .dropped(reason) = arrival {
            logger.warning("gang \(spec.gangID) rank \(spec.rank): dropped \(reason)")
            return
        }
        counters.bytesReceived += frames[0].count + frames[1].count
        switch arrival {
        case .hubResult: hubQueue.append((frame, payload))
        case .ringSegment: ringQueue.append((frame, payload))
        case .handled, .dropped: break
        }
    }
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
