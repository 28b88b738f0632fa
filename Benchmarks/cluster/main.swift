// FerdClusterBench: the coordinator's throughput over loopback with simulated workers.
//
// One coordinator (the real `Coordinator`, a real SQLite leaderboard in a temporary folder) and W simulated
// workers: W DEALER sockets driven by one thread that speaks the protocol directly and "trains" instantly.
// Two phases per worker count, each with a fresh database:
//   assign  — trials without METRICs: ASSIGN → RESULT → READY as fast as possible. Assignments per second,
//             and the latency from a worker's READY to its ASSIGN (p50/p99).
//   metrics — every trial sends `--epochs` METRICs before its RESULT: stored metric rows per second.
// The coordinator's CPU is the CPU time of its run-loop thread (CLOCK_THREAD_CPUTIME_ID; libzmq's I/O thread
// is not included); memory is the process's resident set, which includes the simulated workers' sockets.
// Prints one JSON line (the last line of output); `--markdown FILE` also writes a table.
import FerdZeroMQ
import FerdCluster
import FerdLeaderboard
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var workerCounts = [1, 16, 256]
    var assignTrials = 3_000
    var metricTrials = 200
    var epochs = 100
    var markdown: String?

    init(_ arguments: [String]) {
        var index = 0
        func value() -> String {
            index += 1
            guard index < arguments.count else { fatalError("\(arguments[index - 1]) needs a value") }
            return arguments[index]
        }
        while index < arguments.count {
            switch arguments[index] {
            case "--workers": workerCounts = value().split(separator: ",").compactMap { Int($0) }
            case "--assign-trials": assignTrials = Int(value()) ?? assignTrials
            case "--metric-trials": metricTrials = Int(value()) ?? metricTrials
            case "--epochs": epochs = Int(value()) ?? epochs
            case "--markdown": markdown = value()
            default: fatalError("unknown option \(arguments[index]); use --workers 1,16,256 --assign-trials N "
                                + "--metric-trials N --epochs N --markdown FILE")
            }
            index += 1
        }
    }
}

struct PhaseResult {
    var trials = 0
    var metricRows = 0
    var seconds = 0.0
    var latencies: [Double] = []
    var coordinatorCPU = 0.0
    var rssMiB = 0.0

    func percentile(_ p: Double) -> Double {
        guard !latencies.isEmpty else { return 0 }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
    }
}

func now() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func threadCPU() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

func residentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
          let kib = line.split(separator: " ").dropFirst().first.flatMap({ Double($0) }) else { return 0 }
    return kib / 1024
}

final class Box<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }
}

let confusion = (0..<WireFormat.classCount).map { row in (0..<WireFormat.classCount).map { $0 == row ? 9 : 1 } }

/// Runs one coordinator with `trials` trials and `workers` simulated workers, each trial sending `epochs` METRICs.
func runPhase(workers: Int, trials: Int, epochs: Int) throws -> PhaseResult {
    let quiet = { () -> Logger in
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        return logger
    }()
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-cluster-bench-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let path = directory.appendingPathComponent("bench.db").path
    let setup = try Leaderboard(path: path, logger: quiet)
    let experiment = try setup.findOrCreateExperiment(name: "bench", contentHash: "bench", config: "{}", at: Date()).experiment
    let ids = try setup.insertTrials(experimentID: experiment.id, plans: (0..<trials).map {
        TrialPlan(paramsJSON: #"{"lambda":\#($0)}"#, fold: 1, seed: 1)
    }, at: Date())
    let specs = ids.map { Scheduler.TrialSpec(id: $0, configJSON: #"{"trial":\#($0),"settings":{"epochs":\#(epochs)}}"#) }

    let stop = StopSignal()
    let endpoint = Box<String?>(nil)
    let cpu = Box(0.0)
    let failure = Box<String?>(nil)
    let finished = DispatchSemaphore(value: 0)
    let coordinatorThread = Thread {
        defer { finished.signal() }
        do {
            let leaderboard = try Leaderboard(path: path, logger: quiet)
            let coordinator = Coordinator(
                configuration: Coordinator.Configuration(
                    endpoint: "tcp://127.0.0.1:*",
                    scheduler: Scheduler.Configuration(heartbeatInterval: 1, missedHeartbeatsBeforeDead: 60, maxAttempts: 3)),
                leaderboard: leaderboard, logger: quiet)
            let started = threadCPU()
            try coordinator.run(trials: specs, until: stop, untilFinished: true, bound: { endpoint.value = $0 })
            cpu.value = threadCPU() - started
        } catch {
            failure.value = "\(error)"
            endpoint.value = "failed"
        }
    }
    coordinatorThread.stackSize = 8 << 20
    coordinatorThread.name = "coordinator"
    coordinatorThread.start()
    let bindDeadline = now() + 10
    while endpoint.value == nil, now() < bindDeadline { usleep(1_000) }
    guard let bound = endpoint.value, bound != "failed" else {
        throw NSError(domain: "bench", code: 1, userInfo: [NSLocalizedDescriptionKey: failure.value ?? "no bind"])
    }

    let context = try ZMQContext()
    var sockets: [ZMQSocket] = []
    for index in 0..<workers {
        let socket = try ZMQSocket(context, type: .dealer)
        try socket.setLinger(milliseconds: 0)
        try socket.setRoutingID(Array("sim-\(index)".utf8))
        try socket.setHighWaterMarks(send: 100_000, receive: 100_000)
        try socket.connect(bound)
        sockets.append(socket)
    }
    var readySentAt = [Double](repeating: 0, count: workers)
    var result = PhaseResult()
    let started = now()
    for (index, socket) in sockets.enumerated() {
        try socket.send([try Message.hello(Hello(workerID: "sim-\(index)", ferdVersion: "bench", cores: 1, backend: "sim",
                                                  slots: 1)).encode()])
        try socket.send([try Message.ready(Ready(credit: 1)).encode()])
        readySentAt[index] = now()
    }
    var peakRSS = residentMiB()
    var lastSample = now()
    let deadline = now() + 300
    while result.trials < trials, now() < deadline, failure.value == nil {
        for index in try ZMQSocket.poll(sockets, timeoutMilliseconds: 100) {
            let socket = sockets[index]
            while let frames = try socket.receive() {
                guard case let .assign(assignment)? = try? Message.decode(frames[0]) else { continue }
                result.latencies.append(now() - readySentAt[index])
                for epoch in 0..<epochs {
                    try socket.send([try Message.metric(MetricReport(
                        trialID: assignment.trialID, attempt: assignment.attempt, epoch: epoch + 1, trainLoss: 1,
                        uar: 0.5, war: 0.5, learningRate: 0.01, seconds: 0.001, confusion: confusion)).encode()])
                }
                try socket.send([try Message.result(ResultReport(
                    trialID: assignment.trialID, attempt: assignment.attempt, bestEpoch: max(epochs, 1), uar: 0.5, war: 0.5,
                    perClassRecall: Array(repeating: 0.5, count: WireFormat.classCount), confusion: confusion,
                    checkpointSHA256: String(repeating: "0", count: 64), checkpointSize: 0)).encode()])
                try socket.send([try Message.ready(Ready(credit: 1)).encode()])
                readySentAt[index] = now()
                result.trials += 1
            }
        }
        if now() - lastSample > 0.2 {
            peakRSS = max(peakRSS, residentMiB())
            lastSample = now()
        }
    }
    // The coordinator stops by itself once every RESULT is stored.
    guard finished.wait(timeout: .now() + 60) == .success else {
        stop.stop()
        throw NSError(domain: "bench", code: 2, userInfo: [NSLocalizedDescriptionKey: "coordinator did not finish"])
    }
    result.seconds = now() - started
    if let error = failure.value {
        throw NSError(domain: "bench", code: 3, userInfo: [NSLocalizedDescriptionKey: error])
    }
    result.coordinatorCPU = cpu.value
    result.rssMiB = max(peakRSS, residentMiB())
    let check = try Leaderboard(path: path, logger: quiet)
    result.metricRows = try check.epochMetrics(experimentID: experiment.id).count
    let done = try check.trials(experimentID: experiment.id).filter { $0.state == .done }.count
    guard done == trials else {
        throw NSError(domain: "bench", code: 4, userInfo: [NSLocalizedDescriptionKey: "\(done) of \(trials) trials DONE"])
    }
    sockets.forEach { $0.close() }
    return result
}

func format(_ value: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", value) }

let options = Options(Array(CommandLine.arguments.dropFirst()))
var rows: [[String: Any]] = []
for workers in options.workerCounts {
    let assign = try runPhase(workers: workers, trials: max(options.assignTrials, workers), epochs: 0)
    let metrics = try runPhase(workers: workers, trials: max(options.metricTrials, workers), epochs: options.epochs)
    let row: [String: Any] = [
        "workers": workers,
        "assignments_per_s": (Double(assign.trials) / assign.seconds).rounded(),
        "assign_p50_ms": (assign.percentile(0.5) * 1e5).rounded() / 100,
        "assign_p99_ms": (assign.percentile(0.99) * 1e5).rounded() / 100,
        "assign_cpu_us_per_trial": (assign.coordinatorCPU / Double(assign.trials) * 1e6).rounded(),
        "metric_rows_per_s": (Double(metrics.metricRows) / metrics.seconds).rounded(),
        "metric_cpu_us_per_row": (metrics.coordinatorCPU / Double(max(metrics.metricRows, 1)) * 1e7).rounded() / 10,
        "coordinator_cpu_s": ((assign.coordinatorCPU + metrics.coordinatorCPU) * 1000).rounded() / 1000,
        "coordinator_cpu_share": ((assign.coordinatorCPU + metrics.coordinatorCPU) / (assign.seconds + metrics.seconds) * 100).rounded() / 100,
        "rss_mib": (max(assign.rssMiB, metrics.rssMiB) * 10).rounded() / 10,
    ]
    FileHandle.standardError.write(Data("workers \(workers): \(row)\n".utf8))
    rows.append(row)
}
let summary: [String: Any] = [
    "bench": "cluster", "targets": ["assignments_per_s": 5_000, "metric_rows_per_s": 50_000, "assign_p99_ms": 5],
    "assign_trials": options.assignTrials, "metric_trials": options.metricTrials, "epochs": options.epochs,
    "cores": ProcessInfo.processInfo.activeProcessorCount, "runs": rows,
]
if let markdown = options.markdown {
    func cell(_ row: [String: Any], _ key: String) -> String {
        if let number = row[key] as? Double { return number == number.rounded() ? String(Int(number)) : "\(number)" }
        return "\(row[key] ?? "")"
    }
    var text = """
    # Cluster benchmark

    Generated by `Benchmarks/cluster` (`swift run -c release FerdClusterBench --markdown docs/CLUSTER-BENCHMARKS.md`,
    also the last step of `Benchmarks/run-benchmarks.sh`) on \(ProcessInfo.processInfo.activeProcessorCount) cores.
    One in-process coordinator with a real SQLite leaderboard; W simulated workers (DEALER sockets on one thread,
    trials finish instantly) over loopback TCP. *assign*: \(options.assignTrials) trials without METRICs;
    *metrics*: \(options.metricTrials) trials × \(options.epochs) METRICs. CPU = the coordinator's run-loop thread;
    RSS = the whole benchmark process (coordinator and simulated workers). Targets: ≥ 5 000 assignments/s,
    ≥ 50 000 metric rows/s, p99 assignment latency < 5 ms.

    | workers | assignments/s | p50 ms | p99 ms | CPU µs/assignment | metric rows/s | CPU µs/row | coordinator CPU share | RSS MiB |
    |---:|---:|---:|---:|---:|---:|---:|---:|---:|

    """
    for row in rows {
        text += "| " + ["workers", "assignments_per_s", "assign_p50_ms", "assign_p99_ms", "assign_cpu_us_per_trial",
                        "metric_rows_per_s", "metric_cpu_us_per_row", "coordinator_cpu_share", "rss_mib"]
            .map { cell(row, $0) }.joined(separator: " | ") + " |\n"
    }
    text += """

    ## Where the time goes

    - Every burst of messages that arrives while the coordinator is busy is handled in one SQLite transaction
      (sends held until it commits). Before that change every METRIC was its own transaction and every RESULT
      two; the rows/s were about 4× lower (~7 000 rows/s, ~1 500 assignments/s on this machine).
    - Per METRIC the coordinator decodes and validates the frame, runs the scheduler and inserts one row; the
      7×7 confusion matrix was encoded with `JSONEncoder`, which alone took ~75 % of the coordinator's time per
      row and is now written by hand (identical text). What is left is split roughly evenly between the codec,
      SQLite (hot statements come from a per-connection prepared-statement cache, which roughly doubled the
      rows/s) and the scheduler/bookkeeping.
    - Per assignment there are about four loop turns (READY, ASSIGN, RESULT, ACK), each with its own commit
      and its ZeroMQ system calls; with one worker the round trip, not the CPU, bounds the rate.
    - With many workers that all finish instantly, the coordinator is saturated and every READY queues behind
      the others: latency ≈ workers ÷ throughput (Little's law), so p99 grows with the worker count. Real trials
      take minutes per epoch, which puts a real cluster orders of magnitude below these rates.
    - On a 2-core machine the simulated workers, libzmq's I/O threads and the coordinator share the cores, so
      the rates measure the whole loop rather than the coordinator alone; "coordinator CPU share" says how
      busy its thread was.

    """
    try text.write(toFile: markdown, atomically: true, encoding: .utf8)
}
let json = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
