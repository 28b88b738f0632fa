import FerdRandom
import XCTest
@testable import FerdCollective

/// The jobs of a gang member's protocol without sockets: what a star or ring exchange sends, which frames it
/// accepts, what they do to the values and when the job completes — frame by frame, then for whole gangs whose
/// members and hub are simulated in memory, their frames delivered in random order.
final class GangExchangeTests: XCTestCase {
    private typealias Action = GangProtocol.Action

    private func spec(rank: Int = 0, size: Int = 2, _ topology: GangSpec.Topology,
                      precision: GangSpec.Precision = .float32, chunkBytes: Int = 4 << 20) -> GangSpec {
        GangSpec(gangID: 7, rank: rank, size: size, topology: topology, precision: precision,
                 hubEndpoint: "tcp://hub:1", chunkBytes: chunkBytes, timeout: 10)
    }

    /// A member whose rendezvous completed at time 0.
    private func joined(_ spec: GangSpec) -> GangProtocol {
        var state = GangProtocol(spec: spec)
        _ = state.handle(.started(ringEndpoint: "tcp://me:1", at: 0))
        let peers = FrameHeader(type: .peers, gangID: 7, rank: 0, gangSize: UInt16(spec.size))
        let endpoints = Payload.peers((0..<spec.size).map { Payload.Peer(endpoint: "tcp://member-\($0):1") })
        _ = state.handle(.received(peers, from: .hub, bytes: endpoints, at: 0))
        return state
    }

    private func reduce(count: Int, average: Bool = true, step: UInt64 = 1, bucket: UInt32 = 0) -> GangProtocol.Job {
        .reduce(count: count, average: average, step: step, bucket: bucket, inStep: true)
    }

    /// The hub's result of part `part` of a bucket (float32, `count` values).
    private func result(step: UInt64 = 1, bucket: UInt32 = 0, part: UInt32 = 0, count: Int, size: Int = 2,
                        at time: Double) -> GangProtocol.Event {
        .received(FrameHeader(type: .reduced, flags: FrameHeader.Flags.average, gangID: 7, step: step, bucket: bucket,
                              part: part, rank: 0, gangSize: UInt16(size), payloadLength: UInt32(4 * count)),
                  from: .hub, bytes: [], at: time)
    }

    /// The ring segment that `spec`'s member expects at step `j` of `phase`, from its left neighbour.
    private func segment(for spec: GangSpec, step: UInt64 = 1, part: UInt32 = 0, phase: Int, j: Int, count: Int,
                         at time: Double) -> GangProtocol.Event {
        let received = GangProtocol.Exchanges(spec: spec).ringStep(j, phase: phase).received
        let header = FrameHeader(type: .ring, precision: spec.precision,
                                 flags: phase == 0 ? 0 : FrameHeader.Flags.gatherPhase, gangID: 7, step: step,
                                 part: part, segment: UInt32(received), rank: UInt16(spec.leftRank),
                                 gangSize: UInt16(spec.size),
                                 payloadLength: UInt32(count * spec.precision.bytesPerElement))
        return .received(header, from: .left, bytes: [], at: time)
    }

    private func completions(_ actions: [Action]) -> [Int] {
        actions.compactMap { if case .complete(let id, _) = $0 { id } else { nil } }
    }

    private func sends(_ actions: [Action]) -> [(FrameHeader, GangProtocol.Outgoing)] {
        actions.compactMap { if case .send(let header, let payload, _) = $0 { (header, payload) } else { nil } }
    }

    // MARK: star

    func testAStarBucketGoesOutInChunksAndCompletesOnceEveryResultIsStored() {
        var state = joined(spec(.star, chunkBytes: 8))
        let chunk = { (part: UInt32, count: Int) in
            FrameHeader(type: .reduce, flags: FrameHeader.Flags.average, gangID: 7, step: 3, bucket: 1, part: part,
                        rank: 0, gangSize: 2, payloadLength: UInt32(4 * count))
        }
        XCTAssertEqual(state.handle(.submitted(reduce(count: 5, step: 3, bucket: 1), id: 0, at: 1)), [
            .send(chunk(0, 2), .values(job: 0, offset: 0, count: 2, tracked: false), to: .hub),
            .send(chunk(1, 2), .values(job: 0, offset: 2, count: 2, tracked: false), to: .hub),
            .send(chunk(2, 1), .values(job: 0, offset: 4, count: 1, tracked: false), to: .hub),
        ])
        XCTAssertEqual(state.awaiting, .frames)
        XCTAssertEqual(state.handle(result(step: 3, bucket: 1, part: 0, count: 2, at: 2)),
                       [.keepPayload(from: .hub), .storeResult(job: 0, offset: 0, count: 2)])
        XCTAssertEqual(state.handle(result(step: 3, bucket: 1, part: 2, count: 1, at: 3)),
                       [.keepPayload(from: .hub), .storeResult(job: 0, offset: 4, count: 1)])
        var counters = GangStatistics.Counters()
        counters.bytesSent = 3 * FrameHeader.size + 20
        counters.bytesReceived = 3 * FrameHeader.size + 20
        counters.communicationSeconds = 3
        XCTAssertEqual(state.handle(result(step: 3, bucket: 1, part: 1, count: 2, at: 4)), [
            .keepPayload(from: .hub), .storeResult(job: 0, offset: 2, count: 2),
            .complete(job: 0, GangProtocol.Completion(counters: counters, inStep: true, gathered: nil)),
        ])
        XCTAssertEqual(state.awaiting, .jobs)
    }

    func testTheStarKeepsTwoBucketsInFlightAndCompletesThemInOrder() {
        var state = joined(spec(.star))
        var actions: [Action] = []
        for bucket in 0..<3 {
            actions += state.handle(.submitted(reduce(count: 1, bucket: UInt32(bucket)), id: bucket, at: 1))
        }
        XCTAssertEqual(sends(actions).map(\.0.bucket), [0, 1], "the third bucket waits for the first's results")
        actions = state.handle(result(bucket: 0, count: 1, at: 2))
        XCTAssertEqual(completions(actions), [0])
        XCTAssertEqual(sends(actions).map(\.0.bucket), [2], "and goes out as soon as they are in")
        XCTAssertEqual(completions(state.handle(result(bucket: 1, count: 1, at: 3))), [1])
        XCTAssertEqual(completions(state.handle(result(bucket: 2, count: 1, at: 4))), [2])
    }

    func testAStarResultOutOfOrderIsAProtocolViolation() {
        var state = joined(spec(.star))
        _ = state.handle(.submitted(reduce(count: 1, bucket: 0), id: 0, at: 1))
        _ = state.handle(.submitted(reduce(count: 1, bucket: 1), id: 1, at: 1))
        let actions = state.handle(result(bucket: 1, count: 1, at: 2))
        XCTAssertEqual(actions.first, .keepPayload(from: .hub))
        XCTAssertEqual(actions.dropFirst().first, .fail(.protocolViolation(
            gangID: 7, rank: 0, detail: "expected the result of exchange 1 bucket 0, got reduced of exchange 1 bucket 1 part 0")))
        XCTAssertFalse(state.isActive)
    }

    func testAnAllGatherWaitsForTheBucketsBeforeItAndChecksTheBlocks() {
        var state = joined(spec(.star))
        _ = state.handle(.submitted(reduce(count: 1), id: 0, at: 1))
        XCTAssertEqual(state.handle(.submitted(.gather(bytes: [1], step: 2), id: 1, at: 1)), [])
        let actions = state.handle(result(count: 1, at: 2))
        XCTAssertEqual(completions(actions), [0])
        XCTAssertEqual(sends(actions).map(\.1), [.bytes([1])])
        let blocks = Payload.blocks([[1], [2, 2]])
        let gathered = FrameHeader(type: .gathered, gangID: 7, step: 2, rank: 0, gangSize: 2,
                                   payloadLength: UInt32(blocks.count))
        var twin = state
        guard case .complete(1, let completion)? = state.handle(.received(gathered, from: .hub, bytes: blocks, at: 3)).last
        else { return XCTFail("the gather did not complete") }
        XCTAssertEqual(completion.gathered, [[1], [2, 2]])
        XCTAssertEqual(twin.handle(.received(gathered, from: .hub, bytes: Payload.blocks([[1]]), at: 3)).first,
                       .fail(.protocolViolation(gangID: 7, rank: 0, detail: "expected the allGather of exchange 2, got gathered of 2")))
    }

    func testAGangOfOneCompletesJobsAtOnce() {
        var state = joined(spec(size: 1, .ring))
        XCTAssertEqual(state.handle(.submitted(reduce(count: 3), id: 0, at: 1)),
                       [.complete(job: 0, GangProtocol.Completion(counters: .init(), inStep: true, gathered: nil))])
        XCTAssertEqual(state.handle(.submitted(.gather(bytes: [9], step: 2), id: 1, at: 2)),
                       [.complete(job: 1, GangProtocol.Completion(counters: .init(), inStep: false, gathered: [[9]]))])
    }

    // MARK: ring

    func testRingSegmentsArrivingBeforeTheirJobAreHeldUntilItStarts() {
        let member = spec(rank: 1, .ring, chunkBytes: 4)
        var state = joined(member)
        XCTAssertEqual(state.handle(segment(for: member, phase: 0, j: 0, count: 1, at: 1)), [.keepPayload(from: .left)],
                       "the left neighbour is ahead")
        let ring = { (segment: UInt32, flags: UInt8) in
            FrameHeader(type: .ring, flags: flags, gangID: 7, step: 1, segment: segment, rank: 1, gangSize: 2,
                        payloadLength: 4)
        }
        // Rank 1 of 2 sends segment 1, finishes segment 0 with the held frame, and sends it on.
        XCTAssertEqual(state.handle(.submitted(reduce(count: 2), id: 4, at: 2)), [
            .send(ring(1, 0), .values(job: 4, offset: 1, count: 1, tracked: true), to: .right),
            .combine(job: 4, offset: 0, count: 1, .addDividing(by: 2)),
            .send(ring(0, FrameHeader.Flags.gatherPhase), .values(job: 4, offset: 0, count: 1, tracked: true), to: .right),
        ])
        XCTAssertEqual(state.handle(segment(for: member, phase: 1, j: 0, count: 1, at: 3)),
                       [.keepPayload(from: .left), .combine(job: 4, offset: 1, count: 1, .copy)])
        XCTAssertEqual(state.awaiting, .lentValues, "complete only once libzmq gave the values back")
        XCTAssertEqual(completions(state.handle(.lentValuesReturned(at: 4))), [4])
    }

    func testARingJobFailsWhenTheLentValuesAreNotGivenBackWithinTheTimeout() {
        let member = spec(rank: 1, size: 3, .ring, chunkBytes: 4)
        var state = joined(member)
        _ = state.handle(.submitted(reduce(count: 3), id: 0, at: 1))
        for (time, (phase, j)) in [(0, 0), (0, 1), (1, 0), (1, 1)].enumerated() {
            _ = state.handle(segment(for: member, phase: phase, j: j, count: 1, at: Double(2 + time)))
        }
        XCTAssertEqual(state.awaiting, .lentValues)
        XCTAssertEqual(state.handle(.tick(at: 15)).filter(\.isFailure), [])
        XCTAssertEqual(state.handle(.tick(at: 15.5)).first,
                       .fail(.peerSilent(gangID: 7, rank: 1, peer: 2, seconds: 10.5)), "the right neighbour")
    }

    func testARingSegmentOfAnotherExchangeIsAProtocolViolation() {
        let member = spec(rank: 1, .ring)
        var state = joined(member)
        _ = state.handle(.submitted(reduce(count: 2, step: 5), id: 0, at: 1))
        let actions = state.handle(segment(for: member, step: 4, phase: 0, j: 0, count: 1, at: 2))
        guard case .fail(let error)? = actions.dropFirst().first else { return XCTFail("\(actions)") }
        XCTAssertTrue("\(error)".contains("expected segment 0 of exchange 5 bucket 0 part 0 (4 bytes) from rank 0, "
                                          + "got segment 0 of exchange 4"), "\(error)")
    }

    func testFloat16RingSegmentsAfterTheFirstOfAPieceGoOutAsTheyWereCombined() {
        let member = spec(rank: 0, size: 3, .ring, precision: .float16, chunkBytes: 4)
        var state = joined(member)
        var actions = state.handle(.submitted(reduce(count: 6), id: 0, at: 1))
        for part: UInt32 in 0..<2 {
            for (phase, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                actions += state.handle(segment(for: member, part: part, phase: phase, j: j, count: 1, at: 2))
            }
        }
        let outgoing = sends(actions)
        XCTAssertEqual(outgoing.map(\.0.payloadLength), Array(repeating: 2, count: 8), "one float16 value each")
        XCTAssertEqual(outgoing.map(\.1), [
            .values(job: 0, offset: 0, count: 1, tracked: true), .combined, .combined, .combined,
            .values(job: 0, offset: 3, count: 1, tracked: true), .combined, .combined, .combined,
        ])
    }

    func testTheRingScheduleCoversEverySegmentOnceAndFinishesItAtTheRankBefore() {
        for size in 2...5 {
            let members = (0..<size).map { GangProtocol.Exchanges(spec: spec(rank: $0, size: size, .ring)) }
            for phase in 0..<2 {
                for j in 0..<(size - 1) {
                    let steps = members.map { $0.ringStep(j, phase: phase) }
                    XCTAssertEqual(Set(steps.map(\.sent)).count, size, "each segment moves once per step")
                    for (rank, step) in steps.enumerated() {
                        XCTAssertEqual(step.received, steps[(rank + size - 1) % size].sent, "receives what the left sent")
                    }
                }
            }
            // After the reduce-scatter rank r holds the finished segment (r + 1) mod k: its last receive.
            for (rank, member) in members.enumerated() {
                XCTAssertEqual(member.ringStep(size - 2, phase: 0).received, (rank + 1) % size)
            }
            let gathered = members.enumerated().map { rank, member in
                Set((0..<(size - 1)).map { member.gatherStep($0).received } + [rank])
            }
            XCTAssertTrue(gathered.allSatisfy { $0.count == size }, "an all-gather collects every block")
        }
    }

    // MARK: whole gangs

    /// Gangs of 2 to 5 members, star and ring, float32 and float16, small chunks so that buckets travel in
    /// several chunks and pieces, a random mix of reductions and allGathers submitted at random times, and
    /// frames delivered in a random order (in order on each link): every member completes every job in order,
    /// with the values every member must hold bit for bit, and uses exactly the payloads it kept.
    func testSimulatedGangsAgreeWhateverTheOrderOfDelivery() {
        for seed in 1...60 {
            var random = SplitMix64(seed: UInt64(seed))
            let size = 2 + seed % 4
            let topology: GangSpec.Topology = seed % 2 == 0 ? .ring : .star
            let precision: GangSpec.Precision = seed % 3 == 0 ? .float16 : .float32
            let chunkBytes = 4 * Int.random(in: 1...3, using: &random)
            let jobs: [SimulatedGang.Job] = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                Int.random(in: 0..<4, using: &random) == 0
                    ? .gather
                    : .reduce(count: Int.random(in: 1...40, using: &random), average: Bool.random(using: &random))
            }
            let gang = SimulatedGang(size: size, topology: topology, precision: precision, chunkBytes: chunkBytes,
                                     jobs: jobs, random: &random)
            gang.run(random: &random)
            let label = "seed \(seed): k=\(size) \(topology) \(precision) chunk \(chunkBytes) B, \(jobs)"
            XCTAssertEqual(gang.problems, [], label)
            for rank in 0..<size {
                XCTAssertEqual(gang.completed[rank], Array(jobs.indices), "\(label): rank \(rank) completes in order")
            }
            for (id, job) in jobs.enumerated() {
                switch job {
                case .gather:
                    for rank in 0..<size { XCTAssertEqual(gang.gathered[rank][id], gang.blocks(of: id), label) }
                case .reduce:
                    for rank in 0..<size {
                        XCTAssertEqual(gang.memory[rank][id]!.map(\.bitPattern), gang.expected(id).map(\.bitPattern),
                                       "\(label): job \(id) on rank \(rank)")
                    }
                }
            }
        }
    }
}

/// A gang in memory: k protocol cores, a hub that sums in rank order and divides like `GradientHub`, and links
/// that deliver frames in order, picked at random. The actions' payloads are arrays of wire values (float16
/// rounded), treated as the shell treats them.
private final class SimulatedGang {
    enum Job: Equatable, CustomStringConvertible {
        case reduce(count: Int, average: Bool)
        case gather

        var description: String {
            switch self {
            case let .reduce(count, average): "\(average ? "average" : "sum") of \(count)"
            case .gather: "gather"
            }
        }
    }

    private struct Message {
        var header: FrameHeader
        var values: [Float]?
        var bytes: [UInt8] = []
        /// Sent from a job's values: lent to "libzmq" until delivered.
        var tracked = false
    }

    private enum Link: Hashable {
        case toHub(from: Int)
        case fromHub(to: Int)
        case ring(to: Int)
    }

    let size: Int
    let precision: GangSpec.Precision
    let jobs: [Job]
    private(set) var members: [GangProtocol]
    /// Each member's values by job id.
    private(set) var memory: [[Int: [Float]]]
    private let inputs: [[Int: [Float]]]
    /// Each member's gathered blocks by job id.
    private(set) var gathered: [[Int: [[UInt8]]]]
    private(set) var completed: [[Int]]
    private(set) var problems: [String] = []
    private var kept: [[GangProtocol.Source: [[Float]]]]
    private var combined: [[Float]?]
    private var lent: [Int]
    private var ready: [Bool]
    private var submitted: [Int]
    private var links: [Link: [Message]] = [:]
    private var time = 0.0
    private var endpoints: [Int: String] = [:]
    private var contributions: [[UInt64]: [Int: Message]] = [:]
    private var gatherBlocks: [UInt64: [Int: [UInt8]]] = [:]

    init(size: Int, topology: GangSpec.Topology, precision: GangSpec.Precision, chunkBytes: Int, jobs: [Job],
         random: inout SplitMix64) {
        self.size = size
        self.precision = precision
        self.jobs = jobs
        members = (0..<size).map {
            GangProtocol(spec: GangSpec(gangID: 9, rank: $0, size: size, topology: topology, precision: precision,
                                        hubEndpoint: "tcp://hub:1", chunkBytes: chunkBytes, timeout: 60))
        }
        inputs = (0..<size).map { _ in
            var values: [Int: [Float]] = [:]
            for (id, job) in jobs.enumerated() {
                if case .reduce(let count, _) = job {
                    values[id] = (0..<count).map { _ in Float(Int.random(in: -50...50, using: &random)) }
                }
            }
            return values
        }
        memory = inputs
        gathered = Array(repeating: [:], count: size)
        completed = Array(repeating: [], count: size)
        kept = Array(repeating: [:], count: size)
        combined = Array(repeating: nil, count: size)
        lent = Array(repeating: 0, count: size)
        ready = Array(repeating: false, count: size)
        submitted = Array(repeating: 0, count: size)
    }

    /// Member `rank`'s bytes for the allGather of job `id`.
    func blocks(of id: Int) -> [[UInt8]] {
        (0..<size).map { rank in [UInt8](repeating: UInt8(rank), count: (rank + id) % 4) }
    }

    /// What every member must hold after reduction `id`: the exact sum of the integer inputs, divided once for
    /// an average and rounded once to the wire precision — star and ring both compute exactly this.
    func expected(_ id: Int) -> [Float] {
        guard case .reduce(let count, let average) = jobs[id] else { return [] }
        return (0..<count).map { index in
            let sum = inputs.reduce(Float(0)) { $0 + $1[id]![index] }
            return wire(average ? sum / Float(size) : sum)
        }
    }

    private func wire(_ value: Float) -> Float {
        precision == .float16 ? HalfPrecision.value(HalfPrecision.bits(value)) : value
    }

    /// Starts every member, then takes random steps — deliver a link's next frame, submit a member's next job,
    /// give back a member's lent values — until none is possible; then every member must be idle, with no
    /// payload kept and nothing lent, and leave when closed.
    func run(random: inout SplitMix64) {
        for rank in 0..<size {
            perform(members[rank].handle(.started(ringEndpoint: "tcp://member-\(rank):1", at: time)), rank, nil)
        }
        while true {
            var steps: [() -> Void] = links.filter { !$0.value.isEmpty }.map { link, _ in { self.deliver(link) } }
            for rank in 0..<size {
                if ready[rank], submitted[rank] < jobs.count {
                    steps.append { self.submit(rank) }
                }
                if members[rank].awaiting == .lentValues, lent[rank] == 0 {
                    steps.append { self.perform(self.members[rank].handle(.lentValuesReturned(at: self.time)), rank, nil) }
                }
            }
            guard let step = steps.randomElement(using: &random) else { break }
            time += 0.001
            step()
        }
        for rank in 0..<size {
            if members[rank].awaiting != .jobs || kept[rank].values.contains(where: { !$0.isEmpty }) || lent[rank] != 0 {
                problems.append("rank \(rank) ends \(members[rank].awaiting), \(kept[rank]) kept, \(lent[rank]) lent")
            }
            let leave = members[rank].handle(.closeRequested)
            if leave.count != 1 { problems.append("rank \(rank) did not leave: \(leave)") }
        }
    }

    private func submit(_ rank: Int) {
        let id = submitted[rank]
        submitted[rank] += 1
        let job: GangProtocol.Job
        switch jobs[id] {
        case let .reduce(count, average):
            job = .reduce(count: count, average: average, step: UInt64(id + 1), bucket: 0, inStep: true)
        case .gather:
            job = .gather(bytes: blocks(of: id)[rank], step: UInt64(id + 1))
        }
        perform(members[rank].handle(.submitted(job, id: id, at: time)), rank, nil)
    }

    private func deliver(_ link: Link) {
        let message = links[link]!.removeFirst()
        switch link {
        case .toHub(let rank):
            hub(message, from: rank)
        case .fromHub(let rank):
            receive(message, from: .hub, by: rank)
        case .ring(let rank):
            if message.tracked { lent[(rank + size - 1) % size] -= 1 }
            receive(message, from: .left, by: rank)
        }
    }

    private func receive(_ message: Message, from source: GangProtocol.Source, by rank: Int) {
        let event = GangProtocol.Event.received(message.header, from: source, bytes: message.bytes, at: time)
        perform(members[rank].handle(event), rank, message)
    }

    /// The hub: the peer list once all joined, sums in rank order, allGathers.
    private func hub(_ message: Message, from rank: Int) {
        var reply = message.header
        reply.rank = 0
        switch message.header.type {
        case .join:
            endpoints[rank] = (try? Payload.decodeJoin(message.bytes))?.ringEndpoint
            guard endpoints.count == size else { return }
            let list = Payload.peers((0..<size).map { Payload.Peer(endpoint: endpoints[$0]!) })
            reply.type = .peers
            reply.payloadLength = UInt32(list.count)
            broadcast(Message(header: reply, values: nil, bytes: list))
        case .reduce:
            let key = [message.header.step, UInt64(message.header.bucket), UInt64(message.header.part)]
            contributions[key, default: [:]][rank] = message
            guard let parts = contributions[key], parts.count == size else { return }
            var sum = parts[0]!.values!
            for member in 1..<size {
                for index in sum.indices { sum[index] += parts[member]!.values![index] }
            }
            if message.header.flags & FrameHeader.Flags.average != 0 { sum = sum.map { $0 / Float(size) } }
            reply.type = .reduced
            broadcast(Message(header: reply, values: sum.map(wire)))
        case .gather:
            gatherBlocks[message.header.step, default: [:]][rank] = message.bytes
            guard let blocks = gatherBlocks[message.header.step], blocks.count == size else { return }
            let payload = Payload.blocks((0..<size).map { blocks[$0]! })
            reply.type = .gathered
            reply.payloadLength = UInt32(payload.count)
            broadcast(Message(header: reply, values: nil, bytes: payload))
        default:
            problems.append("the hub got \(message.header.type) from rank \(rank)")
        }
    }

    private func broadcast(_ message: Message) {
        for rank in 0..<size { links[.fromHub(to: rank), default: []].append(message) }
    }

    /// Carries out member `rank`'s actions as the shell does; `delivered` is the frame that caused them.
    private func perform(_ actions: [GangProtocol.Action], _ rank: Int, _ delivered: Message?) {
        for action in actions {
            switch action {
            case let .send(header, outgoing, destination):
                var message = Message(header: header, values: nil)
                switch outgoing {
                case .bytes(let bytes):
                    message.bytes = bytes
                case let .values(job, offset, count, tracked):
                    message.values = memory[rank][job]![offset..<(offset + count)].map(wire)
                    message.tracked = tracked
                    if tracked { lent[rank] += 1 }
                case .combined:
                    if precision == .float32 { problems.append("rank \(rank): a float32 member sent a combine's bytes") }
                    message.values = combined[rank]
                    combined[rank] = nil
                }
                let bytes = (message.values?.count ?? 0) * precision.bytesPerElement + message.bytes.count
                if Int(header.payloadLength) != bytes || header.carriesFloats != (message.values != nil) {
                    problems.append("rank \(rank): \(header.type) announces \(header.payloadLength) bytes, sends \(bytes)")
                }
                links[destination == .hub ? .toHub(from: rank) : .ring(to: (rank + 1) % size), default: []]
                    .append(message)
            case let .notify(header, _, _):
                if header.type == .abort { problems.append("rank \(rank) aborted") }
            case let .connectRing(right, endpoint, _):
                if right != (rank + 1) % size || endpoint != "tcp://member-\(right):1" {
                    problems.append("rank \(rank) connects to rank \(right) at \(endpoint)")
                }
            case .ready:
                ready[rank] = true
            case .keepPayload(let source):
                kept[rank][source, default: []].append(delivered!.values!)
            case let .storeResult(job, offset, count):
                let values = kept[rank][.hub]!.removeFirst()
                if values.count != count { problems.append("rank \(rank) stores \(count) of \(values.count) values") }
                memory[rank][job]!.replaceSubrange(offset..<(offset + count), with: values)
            case let .combine(job, offset, count, combination):
                let values = kept[rank][.left]!.removeFirst()
                if values.count != count { problems.append("rank \(rank) combines \(count) of \(values.count) values") }
                for index in 0..<count {
                    let own = memory[rank][job]![offset + index]
                    switch combination {
                    case .add: memory[rank][job]![offset + index] = own + values[index]
                    case .addDividing(let divisor): memory[rank][job]![offset + index] = wire((own + values[index]) / divisor)
                    case .copy: memory[rank][job]![offset + index] = values[index]
                    }
                }
                if precision == .float16 {
                    combined[rank] = combination == .copy ? values : memory[rank][job]![offset..<(offset + count)].map(wire)
                }
            case let .complete(job, completion):
                completed[rank].append(job)
                if let blocks = completion.gathered { gathered[rank][job] = blocks }
            case .drop(let reason):
                problems.append("rank \(rank) dropped \(reason)")
            case .fail(let error):
                problems.append("rank \(rank) failed: \(error)")
            }
        }
    }
}
