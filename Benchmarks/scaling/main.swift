import ArgumentParser
import FerdCollective
import FerdData
import FerdModels
import FerdTensor
import FerdTraining
import FerdZeroMQ
import Foundation
import Logging

/// Measures data-parallel scaling on this machine: the same global batch trained by one process and by a gang
/// of k members (real `GangMember`s over loopback TCP through a `GradientHub`, each member on its own thread
/// with a single-threaded engine, so each has one core to itself when the machine has k cores). Efficiency
/// = throughput(k) / (k · throughput(1)) = t₁ / (k · t_k), t being the median seconds per training step.
@main
struct FerdScalingBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measured data-parallel scaling: one process vs a gang of k on loopback, same global batch.")

    @Option(help: "Model preset: paper or small.") var preset = "paper"
    @Option(help: "Global batch (a multiple of every k measured).") var batch = 4
    @Option(help: "Timed steps per run (after one warm-up step).") var steps = 4
    @Option(help: "Gang sizes to measure, comma-separated (each member gets one core).") var members = "2"
    @Option(help: "Append the Markdown table to this file.") var markdown: String?

    func run() throws {
        guard let model = ModelConfiguration.preset(named: preset) else {
            throw ValidationError("unknown --preset \(preset); use paper or small")
        }
        let sizes = members.split(separator: ",").compactMap { Int($0) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 2 && batch % $0 == 0 }) else {
            throw ValidationError("--members must list gang sizes ≥ 2 that divide --batch \(batch)")
        }
        guard steps >= 2 else { throw ValidationError("--steps must be at least 2") }
        Threading.setCount(1)
        let settings = TrainingSettings(model: model, epochs: 1, batchSize: batch, learningRate: 1e-3, seed: 7)
        let data = FixedBatches(model: model, batch: batch, count: steps + 1)
        print("preset \(preset), global batch \(batch), \(steps) timed steps, 1 engine thread per member, "
              + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        let single = try Self.timeSingle(settings, data)
        print(String(format: "k=1: %.3f s/step", single))
        var rows: [String] = []
        for size in sizes {
            var shardSettings = settings
            shardSettings.batchSize = batch / size
            let alone = try Self.timeIndependent(size: size, shardSettings,
                                                 FixedBatches(model: model, batch: batch / size, count: steps + 1))
            print(String(format: "%d trainers at once on %d clips each, no exchange: %.3f s/step", size, batch / size, alone))
            for topology in [GangSpec.Topology.ring, .star] {
                for precision in [GangSpec.Precision.float32, .float16] {
                    let run = try Self.timeGang(size: size, topology: topology, precision: precision, settings, data)
                    let efficiency = single / (Double(size) * run.secondsPerStep)
                    let line = String(format: "| %d | %@ | %@ | %.3f | %.3f | %.3f | %.3f | %.0f%% | %.0f%% |", size,
                                      "\(topology)", precision == .float32 ? "float32" : "float16", single, alone,
                                      run.secondsPerStep, run.exposedWaitPerStep, efficiency * 100,
                                      alone / run.secondsPerStep * 100)
                    print(line)
                    rows.append(line)
                }
            }
        }
        if let markdown {
            let header = """

            ## Measured scaling on this machine

            Measured \(Self.timestamp()) on this machine (\(ProcessInfo.processInfo.activeProcessorCount) cores) by \
            `FerdScalingBench --preset \(preset) --batch \(batch) --steps \(steps) --members \(members)`: the \
            \(preset) model, global batch \(batch), synthetic clips. k = 1 is one trainer; k members are \
            `Trainer(gang:)`s on threads of one process joined by real `GangMember`s over loopback TCP (hub in \
            the same process), each with a single-threaded engine, so each member has one of the machine's \
            \(ProcessInfo.processInfo.activeProcessorCount) cores (the communication threads and the hub share \
            them). t = median seconds per training step after a warm-up step; efficiency = t₁ / (k · t_k) = \
            throughput(k) / (k · throughput(1)) for the same global batch. "Exposed wait" is the time rank 0 \
            waited in `finishStep` per step (communication not hidden behind the backward pass). Control: \
            t_alone is k independent trainers running at once on batch/k clips each, with no exchange — what \
            the machine's cores give k concurrent members before any communication; t_alone / t_k is the \
            share of that the gang keeps (the cost of the exchange itself). A few steps on a shared machine: \
            differences of 10–20 % between runs are noise, and a value above 100 % is noise too.

            | k | topology | wire | t₁ s/step | t_alone s/step | t_k s/step | exposed wait s/step | efficiency | t_alone / t_k |
            |---:|---|---|---:|---:|---:|---:|---:|---:|

            """
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: markdown))
            handle.seekToEndOfFile()
            handle.write(Data((header + rows.joined(separator: "\n") + "\n").utf8))
            try handle.close()
        }
    }

    /// The current time as "2026-11-23 21:58 UTC".
    static func timestamp() -> String {
        let format = DateFormatter()
        format.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
        format.timeZone = TimeZone(identifier: "UTC")
        format.locale = Locale(identifier: "en_US_POSIX")
        return format.string(from: Date())
    }

    /// Median seconds per step of one trainer on the whole batch.
    static func timeSingle(_ settings: TrainingSettings, _ data: FixedBatches) throws -> Double {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let trainer = try Trainer(settings: settings, runDirectory: folder, resume: false, logger: quietLogger)
        var stamps: [Double] = []
        _ = try trainer.run(data: data, observe: { event in
            if case .step = event { stamps.append(now()) }
        })
        return median(intervals(stamps))
    }

    /// The slowest median seconds per step of `size` trainers running at once without a gang.
    static func timeIndependent(size: Int, _ settings: TrainingSettings, _ data: FixedBatches) throws -> Double {
        try onThreads(size) { _ in GangRun(secondsPerStep: try timeSingle(settings, data), exposedWaitPerStep: 0) }
            .map(\.secondsPerStep).max() ?? .nan
    }

    /// Runs `body(rank)` for every rank on its own thread; the results by rank, or the first error.
    static func onThreads(_ size: Int, _ body: @escaping @Sendable (Int) throws -> GangRun) throws -> [GangRun] {
        let results = Results(count: size)
        let group = DispatchGroup()
        for rank in 0..<size {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                results.set(rank, Result { try body(rank) })
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        group.wait()
        return try results.all()
    }

    struct GangRun: Sendable {
        var secondsPerStep: Double
        var exposedWaitPerStep: Double
    }

    /// Rank 0's median seconds per step and exposed wait per step in a gang of `size` on loopback.
    static func timeGang(size: Int, topology: GangSpec.Topology, precision: GangSpec.Precision,
                         _ settings: TrainingSettings, _ data: FixedBatches) throws -> GangRun {
        let context = try ZMQContext()
        let hub = try GradientHub(endpoint: "tcp://127.0.0.1:*", context: context, logger: quietLogger)
        defer { hub.stop() }
        return try onThreads(size) { rank in
            let spec = GangSpec(gangID: 1, rank: rank, size: size, topology: topology, precision: precision,
                                hubEndpoint: hub.boundEndpoint, timeout: 120)
            let member = try GangMember(spec: spec, context: context, logger: quietLogger, cancelled: { false })
            defer { member.close() }
            let folder = temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            let trainer = try Trainer(settings: settings, runDirectory: folder, resume: false, logger: quietLogger,
                                      gang: member)
            var stamps: [Double] = []
            var waits: [Double] = []
            _ = try trainer.run(data: data, observe: { event in
                if case .step = event {
                    stamps.append(now())
                    waits.append(member.statistics.lastStep.exposedWaitSeconds)
                }
            })
            return GangRun(secondsPerStep: median(intervals(stamps)), exposedWaitPerStep: median(Array(waits.dropFirst())))
        }[0]
    }
}

/// The same `count` batches of random clips every epoch; one test batch.
struct FixedBatches: BatchProvider {
    let batches: [ClipBatch]

    init(model: ModelConfiguration, batch: Int, count: Int) {
        var generator = SeededGenerator(seed: 11)
        let clipShape = [model.frames, 3, model.imageSize, model.imageSize]
        let size = clipShape.reduce(1, *)
        batches = (0..<count).map { index in
            ClipBatch(shape: [batch] + clipShape, values: (0..<batch * size).map { _ in generator.uniform() },
                      labels: (0..<batch).map { ($0 + index) % 7 }, clipIDs: (0..<batch).map { "clip-\(index)-\($0)" })
        }
    }

    var trainBatchCount: Int { batches.count }
    var testBatchCount: Int { 1 }

    func trainBatches(epoch: Int) throws -> AnyIterator<Result<ClipBatch, Error>> {
        var iterator = batches.makeIterator()
        return AnyIterator { iterator.next().map { .success($0) } }
    }

    func testBatches() throws -> AnyIterator<Result<ClipBatch, Error>> {
        var iterator = batches.prefix(1).makeIterator()
        return AnyIterator { iterator.next().map { .success($0) } }
    }
}

/// The members' outcomes, written from their threads.
final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Result<FerdScalingBench.GangRun, Error>?]

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func set(_ rank: Int, _ value: Result<FerdScalingBench.GangRun, Error>) { lock.withLock { values[rank] = value } }

    func all() throws -> [FerdScalingBench.GangRun] {
        try lock.withLock { values }.map { try $0!.get() }
    }
}

private let quietLogger = Logger(label: "ferd.scaling") { _ in SwiftLogNoOpLogHandler() }

private func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Seconds between consecutive step ends; the first step (warm-up) has no interval.
private func intervals(_ stamps: [Double]) -> [Double] {
    zip(stamps.dropFirst(), stamps).map { $0 - $1 }
}

private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

private func temporaryFolder() -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("ferd-scaling-\(UUID().uuidString)")
}
