import FerdSystem
import Foundation
import FerdZeroMQ
import Logging

/// The rendezvous point and star reducer of gradient gangs (docs/DATA-PARALLEL.md): members JOIN, get
/// every member's ring endpoint once all have joined, and in the star topology send it their buckets, which
/// it sums in rank order in float32 and sends back identically to all. One thread with its own ROUTER
/// socket; state per gang, freed when the members leave, abort or go silent.
public final class GradientHub: @unchecked Sendable {
    /// The endpoint actually bound (with the port chosen for "tcp://host:*").
    public let boundEndpoint: String
    private let control: HubControl

    /// Binds `endpoint` and starts the hub's thread. With `curveSecretKey` (the coordinator's) the hub is a CURVE
    /// server: give `context` a ZAP handler with the workers' allow-list first, or it admits anyone with the public key.
    public init(endpoint: String, context: ZMQContext, logger: Logger, curveSecretKey: String? = nil) throws {
        let control = HubControl()
        self.control = control
        let started = StartResult()
        let thread = Thread {
            let loop: HubLoop
            do {
                let socket = try ZMQSocket(context, type: .router)
                try socket.setLinger(milliseconds: 0)
                try socket.setHighWaterMarks(send: 0, receive: 0)
                try socket.setMaxMessageSize(256 << 20)
                if let curveSecretKey { try socket.setCurveServer(secretKey: curveSecretKey) }
                try socket.bind(endpoint)
                loop = HubLoop(router: socket, logger: logger)
                started.finish(.success(try socket.lastEndpoint()))
            } catch {
                started.finish(.failure(error))
                control.finished.signal()
                return
            }
            loop.run(control)
            control.finished.signal()
        }
        thread.name = "ferd-gradient-hub"
        thread.start()
        boundEndpoint = try started.wait().get()
    }

    /// The messages the hub dropped since the last call, by peer and kind (the hub's `TrafficGuard` rules: a peer
    /// that sends only malformed messages is ignored for a while; docs/PROTOCOL.md, "Bad traffic").
    public func takeDroppedCounts() -> [TrafficGuard.Count] {
        control.takeDroppedCounts()
    }

    /// Stops the thread and closes the socket; members still waiting see the hub go silent.
    public func stop() {
        guard control.requestStop() else { return }
        control.finished.wait()
    }

    deinit { stop() }
}

final class StartResult: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var result: Result<String, Error>?

    func finish(_ result: Result<String, Error>) {
        self.result = result
        semaphore.signal()
    }

    func wait() -> Result<String, Error> {
        semaphore.wait()
        return result!
    }
}

final class HubControl: @unchecked Sendable {
    private let lock = NSLock()
    private var stopping = false
    private var droppedCounts: [TrafficGuard.Count] = []
    let finished = DispatchSemaphore(value: 0)

    func addDroppedCounts(_ counts: [TrafficGuard.Count]) {
        lock.withLock { droppedCounts += counts }
    }

    func takeDroppedCounts() -> [TrafficGuard.Count] {
        lock.withLock {
            defer { droppedCounts.removeAll() }
            return droppedCounts
        }
    }

    /// True the first time.
    func requestStop() -> Bool {
        lock.withLock {
            defer { stopping = true }
            return !stopping
        }
    }

    var isStopping: Bool { lock.withLock { stopping } }
}

/// The hub's state and message handling; lives on the hub's thread.
final class HubLoop {
    struct Member {
        var identity: [UInt8]
        var endpoint: String
        var publicKey: String
        var lastSeen: Double
        var left = false
    }

    struct ReductionKey: Hashable {
        var step: UInt64
        var bucket: UInt32
        var part: UInt32
    }

    struct Gang {
        var size: Int
        var timeout: Double
        var members: [Int: Member] = [:]
        var formed = false
        var lastPing = 0.0
        /// Contributions, kept as received messages and summed in place.
        var reductions: [ReductionKey: [Int: (FrameHeader, ZMQMessage)]] = [:]
        var gathers: [UInt64: [Int: [UInt8]]] = [:]
    }

    let router: ZMQSocket
    let logger: Logger
    var gangs: [UInt64: Gang] = [:]
    /// A block of partial sums.
    var sum: [Float] = []
    /// Memory for the reduced chunks' wire bytes, sent to every member without copying (one message shared
    /// by all of them) and reused once libzmq has sent it to all.
    let outputs = WireBufferPool(minimumCapacity: 4 << 20)
    /// What is logged, counted and ignored of malformed or unexpected traffic.
    var traffic = TrafficGuard()
    /// The first bytes of every control-plane (coordinator ↔ worker) message: ASCII "FERD".
    static let controlMagic: [UInt8] = [0x46, 0x45, 0x52, 0x44]

    init(router: ZMQSocket, logger: Logger) {
        self.router = router
        self.logger = logger
    }

    func run(_ control: HubControl) {
        while !control.isStopping {
            do {
                if try router.poll(timeoutMilliseconds: 50) {
                    while let frames = try router.receiveMessage() { handle(frames) }
                }
            } catch {
                if error.contextTerminated { break }
                logger.error("gradient hub: \(error)")
            }
            let now = MonotonicClock.seconds()
            maintain(now: now)
            log(traffic.tick(at: now))
            let counts = traffic.takeCounts()
            if !counts.isEmpty { control.addDroppedCounts(counts) }
        }
        router.close()
    }

    private func handle(_ frames: [ZMQMessage]) {
        guard let identity = frames.first?.bytes else { return }
        let peer = RoutingIdentity.name(identity)
        let now = MonotonicClock.seconds()
        guard traffic.admit(peer, at: now) else { return }
        func drop(_ kind: String, _ detail: String) {
            log(traffic.dropped(TrafficGuard.Drop(peer: peer, address: frames.last?.peerAddress, kind: kind,
                                                  detail: detail), at: now))
        }
        let header: FrameHeader
        do throws(FrameError) {
            guard frames.count == 3 else { throw .wrongFrameCount(frames.count - 1) }
            header = try FrameHeader.decode(frames[1].bytes, payloadCount: frames[2].count)
        } catch {
            if frames.count == 2, frames[1].bytes.starts(with: Self.controlMagic) {
                return drop("misdirected-worker", """
                    a ferd worker connected here; workers connect to the coordinator's --bind endpoint, not to the \
                    gradient hub (--gradient-bind)
                    """)
            }
            return drop("malformed", "malformed: \(error)")
        }
        let payload = frames[2]
        let rank = Int(header.rank)
        if header.type == .join {
            join(header, payload: payload.bytes, identity: identity, drop: drop)
            return
        }
        guard var gang = gangs[header.gangID], let member = gang.members[rank], member.identity == identity else {
            // Members of an aborted gang still say goodbye.
            if header.type != .leave, header.type != .abort {
                drop("unknown-gang", "\(header.type) from rank \(rank) of gang \(header.gangID), which it is not a member of")
            }
            return
        }
        traffic.accepted(peer)
        gang.members[rank]?.lastSeen = MonotonicClock.seconds()
        switch header.type {
        case .ping:
            gangs[header.gangID] = gang
        case .leave:
            gang.members[rank]?.left = true
            if !gang.reductions.isEmpty || !gang.gathers.isEmpty {
                abort(header.gangID, gang, reason: "rank \(rank) left while an exchange was under way", except: rank)
            } else if gang.members.values.allSatisfy(\.left) {
                gangs[header.gangID] = nil
                logger.debug("gradient hub: gang \(header.gangID) finished")
            } else {
                gangs[header.gangID] = gang
            }
        case .abort where !gang.formed, .leave where !gang.formed:
            // A member giving up on a forming gang leaves it; the others wait for their own timeout.
            gang.members[rank] = nil
            gangs[header.gangID] = gang.members.isEmpty ? nil : gang
        case .abort:
            let reason = String(decoding: payload.bytes, as: UTF8.self)
            abort(header.gangID, gang, reason: "rank \(rank) failed: \(reason)", except: rank)
        case .reduce where gang.members.contains(where: \.value.left),
             .gather where gang.members.contains(where: \.value.left):
            let gone = gang.members.filter(\.value.left).keys.sorted().map(String.init).joined(separator: ", ")
            abort(header.gangID, gang, reason: "rank(s) \(gone) left the gang; the exchange cannot complete", except: nil)
        case .reduce:
            let key = ReductionKey(step: header.step, bucket: header.bucket, part: header.part)
            var contributions = gang.reductions[key] ?? [:]
            if let (first, data) = contributions.values.first,
               first.precision != header.precision || first.flags != header.flags || data.count != payload.count {
                abort(header.gangID, gang, reason: "ranks disagree on exchange \(header.step) bucket \(header.bucket) "
                      + "(\(data.count) vs \(payload.count) bytes, precision or averaging)", except: nil)
                return
            }
            contributions[rank] = (header, payload)
            if contributions.count == gang.size {
                gang.reductions[key] = nil
                gangs[header.gangID] = gang
                reduce(header, contributions: contributions, gang: gang)
            } else {
                gang.reductions[key] = contributions
                gangs[header.gangID] = gang
            }
        case .gather:
            var blocks = gang.gathers[header.step] ?? [:]
            blocks[rank] = payload.bytes
            if blocks.count == gang.size {
                gang.gathers[header.step] = nil
                gangs[header.gangID] = gang
                let all = Payload.blocks((0..<gang.size).map { blocks[$0]! })
                var reply = header
                reply.type = .gathered
                broadcast(gang, reply, payload: all)
            } else {
                gang.gathers[header.step] = blocks
                gangs[header.gangID] = gang
            }
        default:
            gangs[header.gangID] = gang
            drop("unexpected", "unexpected \(header.type) from gang \(header.gangID) rank \(rank)")
        }
    }

    private func join(_ header: FrameHeader, payload: [UInt8], identity: [UInt8], drop: (String, String) -> Void) {
        let joinInfo: (timeout: Double, ringEndpoint: String, publicKey: String)
        do {
            joinInfo = try Payload.decodeJoin(payload)
        } catch {
            return drop("bad-join", "JOIN for gang \(header.gangID): \(error)")
        }
        let size = Int(header.gangSize)
        var gang = gangs[header.gangID] ?? Gang(size: size, timeout: joinInfo.timeout)
        guard gang.size == size, !gang.formed else {
            let reason = gang.formed ? "the gang has already formed" : "gang size \(size), the others said \(gang.size)"
            drop("refused-join", "refused rank \(header.rank) of gang \(header.gangID): \(reason)")
            send(to: identity, FrameHeader(type: .abort, gangID: header.gangID, rank: header.rank, gangSize: header.gangSize),
                 payload: Array("the hub refused the join: \(reason)".utf8))
            return
        }
        gang.members[Int(header.rank)] = Member(identity: identity, endpoint: joinInfo.ringEndpoint,
                                                publicKey: joinInfo.publicKey, lastSeen: MonotonicClock.seconds())
        traffic.accepted(RoutingIdentity.name(identity))
        let ranks = gang.members.keys.sorted()
        broadcast(gang, FrameHeader(type: .joined, gangID: header.gangID, rank: 0, gangSize: header.gangSize),
                  payload: Payload.ranks(ranks))
        if ranks.count == size {
            gang.formed = true
            let peers = (0..<size).map { Payload.Peer(endpoint: gang.members[$0]!.endpoint, publicKey: gang.members[$0]!.publicKey) }
            broadcast(gang, FrameHeader(type: .peers, gangID: header.gangID, rank: 0, gangSize: header.gangSize),
                      payload: Payload.peers(peers))
            logger.debug("gradient hub: gang \(header.gangID) of \(size) formed")
        }
        gangs[header.gangID] = gang
    }

    /// Sums the contributions in rank order in float32, divides for an average, and sends the wire bytes.
    /// The contributions are read in place from the received messages; the result is written once into a
    /// pooled buffer and sent to every member without copying.
    private func reduce(_ header: FrameHeader, contributions: [Int: (FrameHeader, ZMQMessage)], gang: Gang) {
        let bytes = Int(header.payloadLength)
        let buffer = outputs.take(bytes)
        let inputs = (0..<gang.size).map { contributions[$0]!.1 }
        let divisor = header.flags & FrameHeader.Flags.average != 0 ? Float(gang.size) : nil
        Kernels.reduce(inputs, count: bytes / header.precision.bytesPerElement, precision: header.precision,
                       divisor: divisor, into: buffer.pointer, scratch: &sum)
        var reply = header
        reply.type = .reduced
        reply.rank = 0
        reply.payloadLength = UInt32(bytes)
        let result = outputs.message(buffer, bytes: bytes)
        let encoded = reply.encoded()
        for member in gang.members.values where !member.left {
            do {
                // Every member gets the same content: a reference-counted copy of one message.
                _ = try router.send([member.identity, encoded], payload: ZMQMessage(sharing: result))
            } catch {
                logger.warning("gradient hub: could not send \(reply.type) of gang \(reply.gangID): \(error)")
            }
        }
    }

    private func log(_ reports: [TrafficGuard.Report]) {
        for report in reports {
            logger.warning("gradient hub: \(report.message)")
        }
    }

    private func maintain(now: Double) {
        for (gangID, gang) in gangs {
            let interval = min(1, gang.timeout / 4)
            if now - gang.lastPing >= interval {
                gangs[gangID]?.lastPing = now
                broadcast(gang, FrameHeader(type: .ping, gangID: gangID, rank: 0, gangSize: UInt16(gang.size)), payload: [])
            }
            let silent = gang.members.filter { !$0.value.left && now - $0.value.lastSeen > gang.timeout }
            guard let (rank, member) = silent.min(by: { $0.key < $1.key }) else { continue }
            let seconds = now - member.lastSeen
            if gang.formed {
                abort(gangID, gang, reason: "the hub heard nothing from rank \(rank) for "
                      + "\(String(format: "%.1f", seconds)) s", except: rank)
            } else {
                logger.warning("gradient hub: rank \(rank) of forming gang \(gangID) went silent; dropped it")
                gangs[gangID]?.members[rank] = nil
                if gangs[gangID]?.members.isEmpty == true { gangs[gangID] = nil }
            }
        }
    }

    private func abort(_ gangID: UInt64, _ gang: Gang, reason: String, except: Int?) {
        logger.warning("gradient hub: gang \(gangID) aborted: \(reason)")
        var remaining = gang
        if let except { remaining.members[except] = nil }
        broadcast(remaining, FrameHeader(type: .abort, gangID: gangID, rank: 0, gangSize: UInt16(gang.size)),
                  payload: Array(reason.utf8))
        gangs[gangID] = nil
    }

    private func broadcast(_ gang: Gang, _ header: FrameHeader, payload: [UInt8]) {
        for member in gang.members.values where !member.left {
            send(to: member.identity, header, payload: payload)
        }
    }

    private func send(to identity: [UInt8], _ header: FrameHeader, payload: [UInt8]) {
        var header = header
        header.payloadLength = UInt32(payload.count)
        do {
            try router.send([identity, header.encoded(), payload])
        } catch {
            logger.warning("gradient hub: could not send \(header.type) of gang \(header.gangID): \(error)")
        }
    }
}

