// FerdCollectiveBench: the gradient exchange of the paper model over loopback (docs/COLLECTIVE-BENCHMARKS.md).
//
// For k members (threads of this process), star and ring, float32 and float16 on the wire: seconds per
// exchange of the paper model's 19,083,527-float gradient (median of --repeats after one warm-up), and the raw
// ZeroMQ PUSH→PULL time of the busiest member's bytes in the same 4 MiB messages, measured in the same run.
// Then the projected data-parallel efficiency on 10 and 25 GbE from --compute-ms (the paper train step).
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
    var payloadBytes: Int
    var busiestBytes: Int
    var rawSeconds: Double
    var bandwidthGBs: Double
    var ratioToRaw: Double
    var exposedWaitSeconds: Double
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

/// Seconds to move `bytes` from a PUSH to a PULL over loopback tcp in `chunk`-byte messages.
func rawSeconds(bytes: Int, chunk: Int, context: ZMQContext) throws -> Double {
    let pull = try ZMQSocket(context, type: .pull)
    try pull.setLinger(milliseconds: 0)
    try pull.bind("tcp://127.0.0.1:*")
    let endpoint = try pull.lastEndpoint()
    let start = Box(0.0)
    let sender = Thread {
        do {
            let push = try ZMQSocket(context, type: .push)
            try push.setLinger(milliseconds: 1000)
            try push.connect(endpoint)
            let buffer = [UInt8](repeating: 7, count: chunk)
            let header = [UInt8](repeating: 0, count: FrameHeader.size)
            start.update { $0 = Date().timeIntervalSince1970 }
            var sent = 0
            while sent < bytes {
                let count = min(chunk, bytes - sent)
                let queued = try buffer.withUnsafeBytes {
                    try push.send(header: header, payload: UnsafeRawBufferPointer(rebasing: $0[0..<count]))
                }
                if queued { sent += count } else { usleep(100) }
            }
            push.close()
        } catch {
            fatalError("raw sender: \(error)")
        }
    }
    sender.start()
    var received = 0
    while received < bytes {
        _ = try pull.poll(timeoutMilliseconds: 100)
        while let frames = try pull.receive() { received += frames.last?.count ?? 0 }
    }
    let seconds = Date().timeIntervalSince1970 - start.value
    pull.close()
    return seconds
}

@main
struct CollectiveBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "FerdCollectiveBench", abstract: "Gradient exchange of the paper model over loopback.")
    @Option(help: "Gang sizes.") var ks = "2,3,4"
    @Option(help: "Timed exchanges per configuration (after one warm-up).") var repeats = 3
    @Option(help: "Compute time of one training step in ms (the paper train step), for the projection.")
    var computeMs = 776.0
    @Option(help: "Where the compute time comes from, for the report.") var computeSource = "default"
    @Option(help: "Also write the Markdown report here.") var markdown: String?
    @Option(help: "The command line recorded in the report.") var command = "Benchmarks/run-benchmarks.sh"

    func run() throws {
        let logger = {
            var logger = Logger(label: "ferd.collective.bench")
            logger.logLevel = .error
            return logger
        }()
        let context = try ZMQContext()
        let hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context, logger: logger)
        defer { hub.stop() }
        let total = paperSizes.reduce(0, +)
        let gradient = [Float](repeating: 0.001, count: paperSizes.max()!)
        var rows: [Row] = []
        var gangID: UInt64 = 1
        for precision in [GangSpec.Precision.float32, .float16] {
            for topology in [GangSpec.Topology.ring, .star] {
                for k in ks.split(separator: ",").compactMap({ Int($0) }) {
                    gangID += 1
                    let times = Box<[Double]>([])
                    let exposed = Box(0.0)
                    let id = gangID
                    let repeats = repeats
                    try runThreads(k) { rank in
                        let spec = GangSpec(gangID: id, rank: rank, size: k, topology: topology, precision: precision,
                                            hubEndpoint: hub.boundEndpoint, timeout: 60)
                        let member = try GangMember(spec: spec, context: context, logger: logger, cancelled: { false })
                        defer { member.close() }
                        for iteration in 0...repeats {
                            var barrier: [Float] = [0]
                            try member.allReduce(&barrier, average: false)
                            let start = Date()
                            try member.beginStep(sizes: paperSizes)
                            for (index, size) in paperSizes.enumerated() {
                                try gradient.withUnsafeBufferPointer {
                                    try member.offer(index, UnsafeBufferPointer(rebasing: $0[0..<size]))
                                }
                            }
                            try member.finishStep { _, _ in }
                            let seconds = Date().timeIntervalSince(start)
                            if rank == 0, iteration > 0 {
                                times.update { $0.append(seconds) }
                                exposed.update { $0 += member.statistics.lastStep.exposedWaitSeconds / Double(repeats) }
                            }
                        }
                    }
                    let median = times.value.sorted()[times.value.count / 2]
                    let payload = total * precision.bytesPerElement
                    let busiest = topology == .ring ? 2 * (k - 1) * payload / k : k * payload
                    let raw = try rawSeconds(bytes: busiest, chunk: 4 << 20, context: context)
                    rows.append(Row(topology: topology.rawValue, precision: precision.rawValue, k: k,
                                    secondsMedian: median, payloadBytes: payload, busiestBytes: busiest,
                                    rawSeconds: raw, bandwidthGBs: Double(busiest) / median / 1e9,
                                    ratioToRaw: raw / median, exposedWaitSeconds: exposed.value))
                    FileHandle.standardError.write(Data(String(format: "%@ %@ k=%d: %.3f s (raw %.3f s)\n",
                                                               topology.rawValue, precision.rawValue, k, median, raw).utf8))
                }
            }
        }
        let projection = project(floats: total)
        if let markdown {
            try report(rows: rows, projection: projection, floats: total)
                .write(toFile: markdown, atomically: true, encoding: .utf8)
        }
        let json: [String: Any] = [
            "benchmark": "collective", "floats": total, "compute_ms": computeMs,
            "rows": rows.map { ["topology": $0.topology, "precision": $0.precision, "k": $0.k,
                                "seconds_median": $0.secondsMedian, "raw_seconds": $0.rawSeconds,
                                "ratio_to_raw": $0.ratioToRaw, "bandwidth_gb_s": $0.bandwidthGBs] },
            "projection": projection.map { ["network": $0.network, "topology": $0.topology, "precision": $0.precision,
                                            "k": $0.k, "efficiency": $0.efficiency] },
        ]
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        print(String(decoding: data, as: UTF8.self))
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

    func report(rows: [Row], projection: [Projection], floats: Int) -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let formatter = ISO8601DateFormatter()
        var lines = [
            "# Gradient exchange benchmarks",
            "",
            "Generated by `\(command)` (FerdCollectiveBench) on \(formatter.string(from: Date())).",
            "Machine: \(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores. All members, the hub and the raw",
            "sender/receiver are threads of one process sharing these cores over loopback tcp, so the numbers",
            "measure CPU cost (copies, float16 conversion, summation, libzmq) more than a network.",
            "",
            "## Exchange of the paper gradient (\(floats) floats) over loopback",
            "",
            "One exchange = beginStep, offer of \(paperSizes.count) tensors, finishStep on every member (25 MiB buckets,",
            "4 MiB messages); median of \(repeats) after a warm-up, timed on rank 0.",
            "\"Busiest bytes\" is what the busiest party must move: for ring each member sends (and receives)",
            "2(k−1)/k·S; for star the hub receives k·S (and sends k·S), S being the gradient's wire bytes.",
            "\"Raw\" is one ZeroMQ PUSH→PULL stream over loopback moving the busiest bytes in 4 MiB messages,",
            "measured in the same run; ratio = raw seconds / exchange seconds. Bandwidth = busiest bytes / exchange seconds.",
            "",
            "| topology | wire | k | s/exchange | busiest MiB | GB/s | raw s | ratio to raw | exposed wait s |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in rows {
            lines.append(String(format: "| %@ | %@ | %d | %.3f | %.0f | %.2f | %.3f | %.0f%% | %.3f |", row.topology,
                                row.precision, row.k, row.secondsMedian, Double(row.busiestBytes) / 1_048_576,
                                row.bandwidthGBs, row.rawSeconds, row.ratioToRaw * 100, row.exposedWaitSeconds))
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
