import ArgumentParser
import COpenBLAS
import FerdModels
import FerdTensor
import Foundation

/// Benchmarks for `make bench`: OpenBLAS sgemm peak, the GCA+IAL training step and the data loader, each printed as
/// one JSON line that Benchmarks/run-benchmarks.sh turns into docs/BENCHMARKS.md.
@main
struct FerdBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ferd-bench", abstract: "Micro-benchmarks of the ferd engine.",
        subcommands: [SgemmPeak.self, TrainStep.self, ConvLayers.self, LoaderThroughput.self])

    /// Sets the engine's malloc up as `ferd` does (see ``Heap``), then runs the benchmark.
    static func main() {
        Heap.configure()
        main(nil)
    }
}

/// Seconds of the fastest and the median of `repeats` runs of `body`.
func time(repeats: Int, _ body: () throws -> Void) rethrows -> (best: Double, median: Double) {
    var samples: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        samples.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    samples.sort()
    return (samples[0], samples[samples.count / 2])
}

func printJSON(_ object: [String: Any]) {
    let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
    print(String(decoding: data, as: UTF8.self))
}

/// CPU seconds (user + system, all threads) this process has used so far.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

func maxResidentMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

struct SgemmPeak: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sgemm", abstract: "OpenBLAS sgemm GFLOP/s on square matrices.")
    @Option(help: "Matrix side.") var size = 2048
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Repetitions.") var repeats = 5

    func run() {
        openblas_set_num_threads(Int32(threads))
        let n = size
        let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
        var c = [Float](repeating: 0, count: n * n)
        let (best, median) = time(repeats: repeats) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a, Int32(n), b, Int32(n), 0, &c, Int32(n))
        }
        let flops = 2 * Double(n) * Double(n) * Double(n)
        printJSON(["benchmark": "sgemm", "size": n, "threads": threads,
                   "gflops_peak": flops / best / 1e9, "gflops_median": flops / median / 1e9])
    }
}

struct TrainStep: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-step", abstract: "One SGD training step (forward, backward, update) of a method's model.")
    @Option(help: "The method: gca-ial, scn, ran, former-dfer or stt.") var method = "gca-ial"
    @Option(help: "paper or small.") var preset = "paper"
    @Option(help: "Clips per batch.") var batch = 2
    @Option(help: "Threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed steps.") var steps = 5
    @Option(help: "Untimed warm-up steps.") var warmup = 1
    @Flag(name: .customLong("ran-recompute"), help: "RAN: recompute each region's backbone pass in the backward pass.")
    var ranRecompute = false
    @Flag(help: "Print the model configuration JSON (for the PyTorch side of Benchmarks/methods/run.sh) and stop.")
    var configurationOnly = false

    func run() throws {
        Threading.setCount(threads)
        guard let method = ModelMethod(rawValue: method) else {
            throw ValidationError("unknown method '\(self.method)'; use one of \(ModelMethod.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard var configuration = ModelConfiguration.preset(named: preset, method: method) else {
            throw ValidationError("no preset '\(preset)' for \(method.rawValue); use paper or small")
        }
        if ranRecompute {
            guard method == .ran else { throw ValidationError("--ran-recompute applies to --method ran, not \(method.rawValue)") }
            configuration.ranRecompute = true
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        if configurationOnly {
            return print(String(decoding: try encoder.encode(configuration), as: UTF8.self))
        }
        let model = try ExpressionModels.make(configuration, seed: 0)
        var generator = SeededGenerator(seed: 1)
        let shape = [batch, configuration.frames, 3, configuration.imageSize, configuration.imageSize]
        let clips = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in generator.uniform() })
        let targets = (0..<batch).map { $0 % configuration.classes }
        var optimizer = SGD(learningRate: 1e-3, momentum: 0.9, weightDecay: 0.1)
        func step() throws {
            let output = try model(clips, training: true)
            let loss = try Profiler.section("loss") { try trainingLoss(output, method: method, targets: targets) }
            loss.backward()
            Profiler.section("optimizer") { optimizer.step(model.parameters) }
        }
        for _ in 0..<warmup { try step() }
        let cpuStart = cpuSeconds()
        let (best, median) = try time(repeats: steps, step)
        let cpuPerStep = (cpuSeconds() - cpuStart) / Double(steps)
        Profiler.setEnabled(true)
        try step()
        let sections = Profiler.snapshot()
        Profiler.setEnabled(false)
        let flops = sections.values.reduce(0) { $0 + $1.flops }
        let convFlops = sections.values.reduce(0) { $0 + $1.convolutionFlops }
        let convSeconds = sections.values.reduce(0) { $0 + $1.convolutionSeconds }
        let table = sections.map { name, totals in
            ["section": name, "forward_ms": totals.forwardSeconds * 1e3, "backward_ms": totals.backwardSeconds * 1e3,
             "gflop": totals.flops / 1e9, "conv_gflops_per_s": totals.convolutionSeconds > 0 ? totals.convolutionFlops / totals.convolutionSeconds / 1e9 : 0] as [String: Any]
        }
        let described = try JSONSerialization.jsonObject(with: encoder.encode(configuration))
        var result: [String: Any] = [
            "framework": "ferd", "method": method.rawValue, "preset": preset, "configuration": described,
            "parameters": model.parameters.reduce(0) { $0 + $1.count }, "batch": batch, "threads": threads,
            "ms_per_step_median": median * 1e3, "ms_per_step_min": best * 1e3, "cpu_ms_per_step": cpuPerStep * 1e3,
            "gflop_per_step": flops / 1e9, "gflops_achieved": flops / median / 1e9,
            "conv_gflops": convFlops / max(convSeconds, 1e-12) / 1e9,
            "max_rss_mib": maxResidentMiB(), "sections": table]
        if configuration.ranRecompute { result["variant"] = "regions recomputed" }
        printJSON(result)
    }
}

/// The training objective of `method` with the default settings (GCA+IAL: the reference weights).
func trainingLoss(_ output: ModelOutput, method: ModelMethod, targets: [Int]) throws -> Tensor {
    try output.objective(method: method, targets: targets).total
}
