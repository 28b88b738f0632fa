// FerdCollectiveBench: the gradient exchange of the paper model over loopback (docs/COLLECTIVE-BENCHMARKS.md).
//
// For k members (threads of this process), star and ring, float32 and float16 on the wire: seconds per
// exchange of the paper model's 19,083,527-float gradient (median of --repeats after one warm-up), against two
// raw ZeroMQ baselines measured in the same run with the same messages (4 MiB by default): one PUSH→PULL stream of the
// busiest party's bytes, and the exchange's own streams moving the same bytes concurrently (ring: k streams
// member i → i+1; star: k members → hub and hub → k members, overlapped). Like the exchange, the raw streams send
// and receive payloads without copying them (borrowed messages from one reused buffer, received messages read in
// place). Then the projected data-parallel efficiency on 10 and 25 GbE from --compute-ms (the paper train step).
// Prints one JSON line (the last line of output); --markdown FILE also writes the report.
import ArgumentParser
import FerdCollective
import FerdZeroMQ
import Foundation
import Logging

/// The paper model's gradient as tensors of realistic sizes (convolution kernels, norms, linear layers),
/// 19,083,527 floats in all, in backward order.
let paperSizes: [Int] = {
    let pattern = [2_359_296, 512, 512, 1_179_648, 256, 256, 589_824, 128, 128, 36_864, 64, 64, 4_096, 7]
    var sizes: [Int] = []
    var total = 0
    while total < 19_083_527 {
        for size in pattern where total < 19_083_527 {
            let next = min(size, 19_083_527 - total)
            sizes.append(next)
            total += next
        }
    }
    return sizes
}()

final class Box<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T { lock.withLock { stored } }
    func update(_ change: (inout T) -> Void) { lock.withLock { change(&stored) } }
}

struct Row: Codable {
    var topology: String
    var precision: String
    var k: Int
    var secondsMedian: Double
    /// CPU seconds of the whole process (all threads) during an exchange, median.
    var cpuSeconds: Double
    var payloadBytes: Int
    var busiestBytes: Int
    /// One stream of the busiest party's bytes.
    var rawSeconds: Double
    /// The exchange's streams with the same bytes, concurrently.
    var rawStreamsSeconds: Double
    var rawStreamsCPUSeconds: Double
    var bandwidthGBs: Double
    var exposedWaitSeconds: Double

    var ratioToRaw: Double { rawSeconds / secondsMedian }
    var ratioToRawStreams: Double { rawStreamsSeconds / secondsMedian }
}

/// The median of `count` runs of `body`.
func medianOf(_ count: Int, _ body: () throws -> Double) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<max(1, count) { times.append(try body()) }
    return times.sorted()[times.count / 2]
}

func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    let errors = Box<[Error]>([])
    let group = DispatchGroup()
    for rank in 0..<count {
        group.enter()
        Thread {
            do { try body(rank) } catch { errors.update { $0.append(error) } }
            group.leave()
        }.start()
    }
    group.wait()
    if let error = errors.value.first { throw error }
}

/// Waits until `parties` threads have arrived; reusable for one round only.
final class Barrier: @unchecked Sendable {
    private let condition = NSCondition()
    private var waiting: Int
    init(parties: Int) { waiting = parties }

    func arriveAndWait() {
        condition.withLock {
            waiting -= 1
            if waiting == 0 { condition.broadcast() }
            while waiting > 0 { condition.wait() }
        }
    }
}

/// The time between the first party starting and the last finishing, over all parties.
final class Span: @unchecked Sendable {
    private let lock = NSLock()
    private var first = Double.infinity
    private var last = 0.0
    func started(_ time: Double) { lock.withLock { first = min(first, time) } }
    func finished(_ time: Double) { lock.withLock { last = max(last, time) } }
    var seconds: Double { lock.withLock { last - first } }
}

/// CPU seconds (user and system) of every thread of this process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Sizes of the messages that carry `bytes` in messages of at most `chunk` bytes.
func messages(_ bytes: Int, chunk: Int) -> [Int] {
    stride(from: 0, to: bytes, by: chunk).map { min(chunk, bytes - $0) }
}

/// The payload every raw party sends from: one buffer of `chunk` bytes, allocated once and reused for every
/// message (as the exchange sends from its step storage and pooled buffers). Never freed: libzmq holds
/// borrowed messages until it has written them.
final class RawPayload: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    init(count: Int) {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, count), alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 7)
        bytes = UnsafeRawBufferPointer(buffer)
    }
}

/// What the raw receivers read of the payloads they received (one byte per page), kept so that the reads are
/// not optimised away.
let touched = Box<UInt64>(0)

/// Reads one byte per 4 KiB page of `message` in place (no copy): the receiver looks at what arrived.
func touch(_ message: ZMQMessage) -> UInt64 {
    message.withUnsafeBytes { bytes in
        var sum: UInt64 = 0
        var offset = 0
        while offset < bytes.count {
            sum &+= UInt64(bytes[offset])
            offset += 4096
        }
        return sum
    }
}

/// One party of a raw measurement: sends its messages on `output` while taking in whatever arrives on
/// `input`, until it has sent everything and received `expected` bytes. `forward(received)` may queue more
/// messages to send (the star hub forwarding a round). Without copying payloads, as the exchange: each payload
/// goes out as a `ZMQMessage` borrowing the start of `payload` (no allocation or copy of its bytes), one message
/// shared (`zmq_msg_copy`) among all outputs when there are several (as the hub sends a reduced chunk to all
/// members); received payloads are read in place (`receiveMessage`, one byte per page touched), never copied.
func pump(output: [ZMQSocket], plan: [Int], input: ZMQSocket?, expected: Int, payload: RawPayload,
          forward: (Int) -> [Int] = { _ in [] }) throws {
    let header = [[UInt8](repeating: 0, count: FrameHeader.size)]
    var queue = plan[...]
    var message: ZMQMessage?  // the payload of queue.first, until every output has it
    var target = 0
    var received = 0
    var messagesReceived = 0
    var sum: UInt64 = 0
    while !queue.isEmpty || received < expected {
        var progressed = false
        if let size = queue.first {
            let source = message ?? ZMQMessage(
                borrowing: UnsafeRawBufferPointer(rebasing: payload.bytes[0..<size]), release: {})
            message = source
            if try output[target].send(header, payload: output.count == 1 ? source : ZMQMessage(sharing: source)) {
                progressed = true
                target += 1
                if target == output.count {
                    target = 0
                    message = nil
                    queue = queue.dropFirst()
                }
            }
        }
        if let input {
            while let frames = try input.receiveMessage() {
                if let last = frames.last {
                    received += last.count
                    sum &+= touch(last)
                }
                messagesReceived += 1
                queue.append(contentsOf: forward(messagesReceived))
                progressed = true
            }
        }
        if !progressed {
            // Blocked on a full send window (no POLLOUT in the wrapper): retry soon; else wait for input.
            if queue.isEmpty, let input { _ = try input.poll(timeoutMilliseconds: 1) } else { usleep(50) }
        }
    }
    touched.update { $0 &+= sum }
}

/// Messages a raw stream may queue on each side (ZeroMQ high-water marks): the raw streams move data as
/// fast as the receivers take it without queueing everything at once (the exchange never has more than a
/// few messages per peer in flight either).
let rawWindow = 2

func pushSocket(_ context: ZMQContext, to endpoint: String) throws -> ZMQSocket {
    let push = try ZMQSocket(context, type: .push)
    try push.setLinger(milliseconds: 1000)
    try push.setHighWaterMarks(send: rawWindow, receive: rawWindow)
    try push.connect(endpoint)
    return push
}

func pullSocket(_ context: ZMQContext) throws -> (ZMQSocket, String) {
    let pull = try ZMQSocket(context, type: .pull)
    try pull.setLinger(milliseconds: 0)
    try pull.setHighWaterMarks(send: rawWindow, receive: rawWindow)
    try pull.bind("tcp://127.0.0.1:*")
    return (pull, try pull.lastEndpoint())
}

/// Raw ZeroMQ over loopback: PUSH→PULL streams without any gradient work, in the same messages (a 44-byte
/// header frame and a payload of at most `chunk` bytes) and with the same sockets options as the exchange,
/// sending and receiving payloads without copying them (see `pump`).
struct RawTransport {
    /// The context of one party (a thread standing for a process).
    let context: @Sendable () throws -> ZMQContext
    let chunk: Int
    let payload: RawPayload

    /// One stream moving `bytes`.
    func single(bytes: Int) throws -> Double {
        try ring(parties: 2, bytes: bytes, streams: 1)
    }

    /// `parties` threads in a ring, party i sending `bytes` to party i+1 while receiving from i−1; the first
    /// `streams` parties send (all of them for the ring exchange, one for a single stream).
    func ring(parties: Int, bytes: Int, streams: Int? = nil) throws -> Double {
        let streams = streams ?? parties
        let endpoints = Box([String](repeating: "", count: parties))
        let bound = Barrier(parties: parties)
        let ready = Barrier(parties: parties)
        let span = Span()
        try runThreads(parties) { party in
            let context = try context()
            let (pull, endpoint) = try pullSocket(context)
            defer { pull.close() }
            endpoints.update { $0[party] = endpoint }
            bound.arriveAndWait()
            let push = try pushSocket(context, to: endpoints.value[(party + 1) % parties])
            defer { push.close() }
            // Connect and exchange one small message first, so that connecting is not timed.
            try pump(output: [push], plan: [1], input: pull, expected: 1, payload: payload)
            ready.arriveAndWait()
            span.started(now())
            let sends = party < streams
            let receives = (party + parties - 1) % parties < streams
            try pump(output: [push], plan: sends ? messages(bytes, chunk: chunk) : [], input: pull,
                     expected: receives ? bytes : 0, payload: payload)
            span.finished(now())
        }
        return span.seconds
    }

    /// The star exchange's streams: `members` threads each send `bytes` to one hub thread and receive
    /// `bytes` from it; the hub forwards message i to every member once all members' i-th messages arrived,
    /// as the hub sends a reduced chunk once every contribution is in.
    func star(members: Int, bytes: Int) throws -> Double {
        let hubEndpoint = Box("")
        let memberEndpoints = Box([String](repeating: "", count: members))
        let bound = Barrier(parties: members + 1)
        let ready = Barrier(parties: members + 1)
        let span = Span()
        let plan = messages(bytes, chunk: chunk)
        try runThreads(members + 1) { party in
            let context = try context()
            let (pull, endpoint) = try pullSocket(context)
            defer { pull.close() }
            if party == members {
                hubEndpoint.update { $0 = endpoint }
            } else {
                memberEndpoints.update { $0[party] = endpoint }
            }
            bound.arriveAndWait()
            if party == members {
                let pushes = try memberEndpoints.value.map { try pushSocket(context, to: $0) }
                defer { pushes.forEach { $0.close() } }
                try pump(output: pushes, plan: [], input: pull, expected: members, payload: payload) { count in
                    count == members ? [1] : []
                }
                ready.arriveAndWait()
                span.started(now())
                try pump(output: pushes, plan: [], input: pull, expected: members * bytes, payload: payload) { count in
                    count % members == 0 ? [plan[count / members - 1]] : []
                }
                span.finished(now())
            } else {
                let push = try pushSocket(context, to: hubEndpoint.value)
                defer { push.close() }
                try pump(output: [push], plan: [1], input: pull, expected: 1, payload: payload)
                ready.arriveAndWait()
                span.started(now())
                try pump(output: [push], plan: plan, input: pull, expected: bytes, payload: payload)
                span.finished(now())
            }
        }
        return span.seconds
    }
}

@main
struct CollectiveBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "FerdCollectiveBench", abstract: "Gradient exchange of the paper model over loopback.")
    @Option(help: "Gang sizes.") var ks = "2,3,4"
    @Option(help: "Topologies.") var topologies = "ring,star"
    @Option(help: "Wire precisions.") var precisions = "float32,float16"
    @Option(help: "Largest message payload (GangSpec.chunkBytes), for the exchange and the raw streams.")
    var chunkBytes = 4 << 20
    @Option(help: "Timed exchanges per configuration (after one warm-up).") var repeats = 3
    @Option(help: "Compute time of one training step in ms (the paper train step), for the projection.")
    var computeMs = 776.0
    @Option(help: "Where the compute time comes from, for the report.") var computeSource = "default"
    @Flag(help: "One ZeroMQ context (one I/O thread) for every member, the hub and the raw parties, instead of one each as separate processes would have.")
    var sharedContext = false
    @Option(help: "Also write the Markdown report here.") var markdown: String?
    @Option(help: "The command line recorded in the report.") var command = "Benchmarks/run-benchmarks.sh"
    @Option(help: "The JSON line of an earlier FerdCollectiveBench run, shown as a \"before\" column.")
    var beforeJSON: String?
    @Option(help: "What the \"before\" run measured, for the report.") var beforeLabel = "an earlier build"
    @Option(help: "Markdown appended to the report's exchange section (notes on this run).") var notes: String?
    @Option(help: "Topologies whose k=2 float32 exchange is also timed with CURVE on every link, alternating with the same exchange without it (empty: none).")
    var encryption = "ring,star"

    func run() throws {
        let logger = {
            var logger = Logger(label: "ferd.collective.bench")
            logger.logLevel = .error
            return logger
        }()
        let shared = try ZMQContext()
        let separate = !sharedContext
        let context: @Sendable () throws -> ZMQContext = { separate ? try ZMQContext() : shared }
        let hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context(), logger: logger)
        defer { hub.stop() }
        let total = paperSizes.reduce(0, +)
        let gradient = [Float](repeating: 0.001, count: paperSizes.max()!)
        let rawPayload = RawPayload(count: chunkBytes)
        var rows: [Row] = []
        var gangID: UInt64 = 1
        for precision in precisions.split(separator: ",").compactMap({ GangSpec.Precision(rawValue: String($0)) }) {
            for topology in topologies.split(separator: ",").compactMap({ GangSpec.Topology(rawValue: String($0)) }) {
                for k in ks.split(separator: ",").compactMap({ Int($0) }) {
                    gangID += 1
                    let times = Box<[Double]>([])
                    let cpuTimes = Box<[Double]>([])
                    let exposed = Box(0.0)
                    let id = gangID
                    let repeats = repeats
                    try runThreads(k) { rank in
                        let spec = GangSpec(gangID: id, rank: rank, size: k, topology: topology, precision: precision,
                                            hubEndpoint: hub.boundEndpoint, chunkBytes: chunkBytes, timeout: 60)
                        let member = try GangMember(spec: spec, context: context(), logger: logger, cancelled: { false })
                        defer { member.close() }
                        for iteration in 0...repeats {
                            var barrier: [Float] = [0]
                            try member.allReduce(&barrier, average: false)
                            let start = Date()
                            let cpuStart = processCPUSeconds()
                            try member.beginStep(sizes: paperSizes)
                            for (index, size) in paperSizes.enumerated() {
                                try gradient.withUnsafeBufferPointer {
                                    try member.offer(index, UnsafeBufferPointer(rebasing: $0[0..<size]))
                                }
                            }
                            try member.finishStep { _, _ in }
                            let seconds = Date().timeIntervalSince(start)
                            if rank == 0, iteration > 0 {
                                let cpu = processCPUSeconds() - cpuStart
                                times.update { $0.append(seconds) }
                                cpuTimes.update { $0.append(cpu) }
                                exposed.update { $0 += member.statistics.lastStep.exposedWaitSeconds / Double(repeats) }
                            }
                        }
                    }
                    let median = times.value.sorted()[times.value.count / 2]
                    let payload = total * precision.bytesPerElement
                    let perMember = topology == .ring ? 2 * (k - 1) * payload / k : payload
                    let busiest = topology == .ring ? perMember : k * payload
                    let raw = RawTransport(context: context, chunk: chunkBytes, payload: rawPayload)
                    let single = try medianOf(repeats) { try raw.single(bytes: busiest) }
                    var streamsCPU: [Double] = []
                    let streams = try medianOf(repeats) {
                        let cpuStart = processCPUSeconds()
                        defer { streamsCPU.append(processCPUSeconds() - cpuStart) }
                        return topology == .ring ? try raw.ring(parties: k, bytes: perMember)
                            : try raw.star(members: k, bytes: perMember)
                    }
                    let cpu: Double = cpuTimes.value.sorted()[cpuTimes.value.count / 2]
                    let streamsCPUMedian: Double = streamsCPU.sorted()[streamsCPU.count / 2]
                    let bandwidth = Double(busiest) / median / 1e9
                    let row = Row(topology: topology.rawValue, precision: precision.rawValue, k: k,
                                  secondsMedian: median, cpuSeconds: cpu, payloadBytes: payload, busiestBytes: busiest,
                                  rawSeconds: single, rawStreamsSeconds: streams, rawStreamsCPUSeconds: streamsCPUMedian,
                                  bandwidthGBs: bandwidth, exposedWaitSeconds: exposed.value)
                    rows.append(row)
                    let line = String(format: "%@ %@ k=%d: %.3f s, cpu %.3f s (raw one stream %.3f s, same streams %.3f s, "
                                      + "cpu %.3f s)\n", row.topology, row.precision, k, median, cpu, single, streams,
                                      streamsCPUMedian)
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
        }
        let projection = project(floats: total)
        let costs = try encryptionCosts(logger: logger, context: context, gradient: gradient, startID: gangID + 1)
        if let markdown {
            try (report(rows: rows, projection: projection, floats: total, before: loadBefore()) + encryptionReport(costs))
                .write(toFile: markdown, atomically: true, encoding: .utf8)
        }
        let json: [String: Any] = [
            "benchmark": "collective", "floats": total, "compute_ms": computeMs,
            "rows": rows.map { ["topology": $0.topology, "precision": $0.precision, "k": $0.k,
                                "seconds_median": $0.secondsMedian, "raw_seconds": $0.rawSeconds,
                                "ratio_to_raw": $0.ratioToRaw, "raw_streams_seconds": $0.rawStreamsSeconds,
                                "ratio_to_raw_streams": $0.ratioToRawStreams, "cpu_seconds": $0.cpuSeconds,
                                "raw_streams_cpu_seconds": $0.rawStreamsCPUSeconds, "bandwidth_gb_s": $0.bandwidthGBs] },
            "projection": projection.map { ["network": $0.network, "topology": $0.topology, "precision": $0.precision,
                                            "k": $0.k, "efficiency": $0.efficiency] },
            "encryption": costs.map { ["topology": $0.topology, "plain_seconds": $0.plainSeconds, "curve_seconds": $0.curveSeconds,
                                       "plain_gb_s": $0.plainGBs, "curve_gb_s": $0.curveGBs] },
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
    }

    /// The paper gradient's k=2 float32 exchange with and without CURVE, timed alternately in one run.
    struct EncryptionCost {
        var topology: String
        var plainSeconds: Double
        var curveSeconds: Double
        var plainGBs: Double
        var curveGBs: Double
    }

    func encryptionCosts(logger: Logger, context: @escaping @Sendable () throws -> ZMQContext, gradient: [Float],
                         startID: UInt64) throws -> [EncryptionCost] {
        let serverKeys = try CurveKeyPair.generate()
        let memberKeys = try (0..<2).map { _ in try CurveKeyPair.generate() }
        let plainHub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context(), logger: logger)
        let curveHub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context(), logger: logger,
                                       curveSecretKey: serverKeys.secretKey)
        defer {
            plainHub.stop()
            curveHub.stop()
        }
        var gangID = startID
        var costs: [EncryptionCost] = []
        let sizes = paperSizes
        for topology in encryption.split(separator: ",").compactMap({ GangSpec.Topology(rawValue: String($0)) }) {
            var plain: [Double] = [], encrypted: [Double] = []
            for round in 0..<(2 * repeats) {
                let curve = round % 2 == 1
                gangID += 1
                let id = gangID
                let times = Box<[Double]>([])
                let hubEndpoint = curve ? curveHub.boundEndpoint : plainHub.boundEndpoint
                try runThreads(2) { rank in
                    let keys = curve ? GangCurve(keyPair: memberKeys[rank], hubPublicKey: serverKeys.publicKey) : nil
                    let spec = GangSpec(gangID: id, rank: rank, size: 2, topology: topology, precision: .float32,
                                        hubEndpoint: hubEndpoint, chunkBytes: chunkBytes, timeout: 60, curve: keys)
                    let member = try GangMember(spec: spec, context: context(), logger: logger, cancelled: { false })
                    defer { member.close() }
                    for iteration in 0...1 {
                        var barrier: [Float] = [0]
                        try member.allReduce(&barrier, average: false)
                        let start = Date()
                        try member.beginStep(sizes: sizes)
                        for (index, size) in sizes.enumerated() {
                            try gradient.withUnsafeBufferPointer { try member.offer(index, UnsafeBufferPointer(rebasing: $0[0..<size])) }
                        }
                        try member.finishStep { _, _ in }
                        if rank == 0, iteration == 1 { times.update { $0.append(Date().timeIntervalSince(start)) } }
                    }
                }
                if curve { encrypted += times.value } else { plain += times.value }
            }
            let payload = Double(sizes.reduce(0, +) * 4)
            let busiest = topology == .ring ? payload : 2 * payload
            let plainMedian = plain.sorted()[plain.count / 2], curveMedian = encrypted.sorted()[encrypted.count / 2]
            costs.append(EncryptionCost(topology: topology.rawValue, plainSeconds: plainMedian, curveSeconds: curveMedian,
                                        plainGBs: busiest / plainMedian / 1e9, curveGBs: busiest / curveMedian / 1e9))
            FileHandle.standardError.write(Data(String(format: "%@ float32 k=2: plain %.3f s, CURVE %.3f s\n",
                                                       topology.rawValue, plainMedian, curveMedian).utf8))
        }
        return costs
    }

    func encryptionReport(_ costs: [EncryptionCost]) -> String {
        guard !costs.isEmpty else { return "" }
        var lines = ["", "## The cost of encryption", "",
                     "The paper gradient exchanged by k = 2 members in float32, without and with CURVE on every link (hub and ring), "
                         + "\(repeats) exchanges each, alternating, in the same run; medians. GB/s: what the busiest party moved per second.",
                     "", "| topology | plain s | CURVE s | plain GB/s | CURVE GB/s | CURVE ÷ plain |", "|---|---|---|---|---|---|"]
        for cost in costs {
            lines.append(String(format: "| %@ | %.3f | %.3f | %.2f | %.2f | %.2f× |", cost.topology, cost.plainSeconds,
                                cost.curveSeconds, cost.plainGBs, cost.curveGBs, cost.curveSeconds / cost.plainSeconds))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    struct Projection {
        var network: String
        var topology: String
        var precision: String
        var k: Int
        var commMs: Double
        var efficiency: Double
    }

    /// efficiency(k) = T_c / (T_c + T_comm(k)), with no credit for overlap with the backward pass.
    func project(floats: Int) -> [Projection] {
        var result: [Projection] = []
        for (network, lineRate) in [("10 GbE", 10e9), ("25 GbE", 25e9)] {
            let bandwidth = lineRate / 8 * 0.94
            for precision in [GangSpec.Precision.float32, .float16] {
                let bytes = Double(floats * precision.bytesPerElement)
                for topology in ["ring", "star"] {
                    for k in [4, 8, 16] {
                        let moved = topology == "ring" ? 2 * Double(k - 1) / Double(k) * bytes : Double(k) * bytes
                        let comm = moved / bandwidth * 1e3
                        result.append(Projection(network: network, topology: topology, precision: precision.rawValue,
                                                 k: k, commMs: comm, efficiency: computeMs / (computeMs + comm)))
                    }
                }
            }
        }
        return result
    }

    func mebibytes(_ bytes: Int) -> String { String(format: "%g MiB", Double(bytes) / 1_048_576) }

    struct BeforeKey: Hashable {
        var topology: String
        var precision: String
        var k: Int
    }

    /// Seconds and CPU seconds per exchange of the earlier run in `--before-json`, by configuration.
    func loadBefore() throws -> [BeforeKey: (seconds: Double, cpu: Double?)] {
        guard let beforeJSON else { return [:] }
        let line = try String(contentsOfFile: beforeJSON, encoding: .utf8).split(separator: "\n").last ?? ""
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        var result: [BeforeKey: (seconds: Double, cpu: Double?)] = [:]
        for row in object?["rows"] as? [[String: Any]] ?? [] {
            guard let topology = row["topology"] as? String, let precision = row["precision"] as? String,
                  let k = row["k"] as? Int, let seconds = row["seconds_median"] as? Double else { continue }
            result[BeforeKey(topology: topology, precision: precision, k: k)] = (seconds, row["cpu_seconds"] as? Double)
        }
        return result
    }

    func report(rows: [Row], projection: [Projection], floats: Int,
                before: [BeforeKey: (seconds: Double, cpu: Double?)]) throws -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let formatter = ISO8601DateFormatter()
        var lines = [
            "# Gradient exchange benchmarks",
            "",
            "Generated by `\(command)` (FerdCollectiveBench) on \(formatter.string(from: Date())).",
            "Machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores, shared with other work. All members, the hub and the raw",
            "parties are threads of one process sharing these cores over loopback tcp, "
                + (sharedContext ? "all on one ZeroMQ context (one I/O thread);"
                                 : "each with its own ZeroMQ context (one I/O thread each, as separate processes have);"),
            "so the numbers measure CPU cost (copies, float16 conversion, summation, libzmq) more than a network.",
            "\"CPU s\" is the CPU time of the whole process (all threads, user and system) during one exchange or one",
            "same-streams raw run (median): on a shared machine it is steadier than wall time.",
            "",
            "## Exchange of the paper gradient (\(floats) floats) over loopback",
            "",
            "One exchange = beginStep, offer of \(paperSizes.count) tensors, finishStep on every member (25 MiB buckets,",
            "\(mebibytes(chunkBytes)) messages); median of \(repeats) after a warm-up, timed on rank 0.",
            "\"Busiest bytes\" is what the busiest party must move: for ring each member sends (and receives)",
            "2(k−1)/k·S; for star the hub receives k·S (and sends k·S), S being the gradient's wire bytes.",
            "Bandwidth = busiest bytes / exchange seconds. Two raw ZeroMQ baselines, measured in the same run right",
            "after each configuration (median of \(repeats)), move bytes in the same messages (a \(FrameHeader.size)-byte header frame",
            "and \(mebibytes(chunkBytes)) payloads) over loopback PUSH→PULL with no gradient work, and without copying payloads, as",
            "the exchange: each is sent from one reused buffer as a borrowed message (`ZMQMessage(borrowing:)`, no allocation",
            "or copy of its bytes; the star hub shares one message among all members, `ZMQMessage(sharing:)`) and received in",
            "place (`receiveMessage()`, one byte per 4 KiB page read, no copy out); each side keeps at most \(rawWindow) messages",
            "queued per socket (ZeroMQ high-water marks):",
            "",
            "- **one stream**: a single stream carrying the busiest party's bytes (the earlier baseline);",
            "- **same streams**: the exchange's own traffic, concurrently — ring: k streams, member i → i+1, of",
            "  2(k−1)/k·S each, every member sending and receiving at once; star: k member threads each sending S to",
            "  one hub thread and receiving S from it, the hub forwarding message i to all members once every member's",
            "  message i has arrived (as it sends a reduced chunk once all contributions are in).",
            "",
            "Ratio = raw seconds / exchange seconds. **The ≥ 80 % target is judged against the same-streams",
            "baseline**: on one machine all streams of an exchange share the same cores, so the fastest the exchange",
            "could possibly be is the time ZeroMQ needs to move exactly its traffic; a single stream has both cores",
            "for one sender and one receiver and understates what the exchange's traffic costs (its ratio is shown",
            "for comparison).",
            "",
        ]
        if !before.isEmpty {
            lines += ["\"Before\" is \(beforeLabel), run on this machine in the same session just before this run;",
                      "speed-up = before seconds / exchange seconds (wall time; compare the CPU columns too).", ""]
        }
        let beforeColumns = before.isEmpty ? "" : " before s | before CPU s | speed-up |"
        lines.append("| topology | wire | k |\(beforeColumns) s/exchange | CPU s | busiest MiB | GB/s | raw one stream s | ratio | "
                     + "raw same streams s | CPU s | ratio | meets 80 % | exposed wait s |")
        lines.append("|---|---|---:|" + (before.isEmpty ? "" : "---:|---:|---:|") + "---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|")
        for row in rows {
            var cells = [row.topology, row.precision, "\(row.k)"]
            if !before.isEmpty {
                let old = before[BeforeKey(topology: row.topology, precision: row.precision, k: row.k)]
                cells += [old.map { String(format: "%.3f", $0.seconds) } ?? "–",
                          old?.cpu.map { String(format: "%.3f", $0) } ?? "–",
                          old.map { String(format: "%.2f×", $0.seconds / row.secondsMedian) } ?? "–"]
            }
            cells += [String(format: "%.3f", row.secondsMedian), String(format: "%.3f", row.cpuSeconds),
                      String(format: "%.0f", Double(row.busiestBytes) / 1_048_576),
                      String(format: "%.2f", row.bandwidthGBs), String(format: "%.3f", row.rawSeconds),
                      String(format: "%.0f%%", row.ratioToRaw * 100), String(format: "%.3f", row.rawStreamsSeconds),
                      String(format: "%.3f", row.rawStreamsCPUSeconds), String(format: "%.0f%%", row.ratioToRawStreams * 100), row.ratioToRawStreams >= 0.8 ? "yes" : "no",
                      String(format: "%.3f", row.exposedWaitSeconds)]
            lines.append("| " + cells.joined(separator: " | ") + " |")
        }
        if let notes {
            lines += ["", try String(contentsOfFile: notes, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)]
        }
        lines += [
            "",
            "## Projected data-parallel efficiency",
            "",
            String(format: "Compute time per step T_c = %.0f ms (%@). ", computeMs, computeSource)
                + "Bandwidth BW = line rate × 0.94 (TCP goodput).",
            "Ring: T_comm = 2(k−1)/k · S / BW (each member's link); star: T_comm = k · S / BW (the hub's link,",
            "full duplex). efficiency(k) = throughput(k) / (k · throughput(1)) = T_c / (T_c + T_comm), with no credit",
            "for overlap with the backward pass (buckets are sent while it runs, so this is a lower bound).",
            "",
            "| network | topology | wire | k | T_comm ms | efficiency |",
            "|---|---|---|---:|---:|---:|",
        ]
        for row in projection {
            lines.append(String(format: "| %@ | %@ | %@ | %d | %.0f | %.0f%% |", row.network, row.topology,
                                row.precision, row.k, row.commMs, row.efficiency * 100))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
