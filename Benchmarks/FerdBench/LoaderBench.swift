import ArgumentParser
import FerdData
import FerdModels
import FerdTensor
import Foundation
import Logging

/// Loader throughput (training mode, with augmentation) from JPEG folders and from the packed cache,
/// against the clips/s that the small preset's training step consumes: can the loader starve the model?
struct LoaderThroughput: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "loader",
        abstract: "Training-batch loader clips/s (JPEG folders and packed cache) vs. the train step's clips/s.")
    @Option(help: "Synthetic clips to write (the training split of fold 1 is loaded).") var clips = 400
    @Option(help: "Frames per synthetic clip on disk.") var sourceFrames = 16
    @Option(help: "Side of the JPEG frames on disk.") var sourceSize = 112
    @Option(help: "Clips per batch.") var batch = 8
    @Option(help: "Threads (loader workers and the engine).") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Timed training steps.") var steps = 10

    func run() throws {
        Threading.setCount(threads)
        var logger = Logger(label: "ferd.bench.loader")
        logger.logLevel = .warning
        let model = ModelConfiguration.small
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-bench-loader-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let data = root.appendingPathComponent("data"), cache = root.appendingPathComponent("cache")
        let synth = try SyntheticDataset.write(to: data, clips: clips, frames: sourceFrames...sourceFrames, size: sourceSize,
                                               seed: 0, classBalance: .balanced, logger: logger)
        let prepare = try PackedCacheWriter.prepare(dataRoot: data.path, cacheDirectory: cache.path,
                                                    options: PrepareOptions(size: model.imageSize), logger: logger)
        let sampler = ClipSampler(segments: model.frames, framesPerSegment: 1)
        var options = ClipLoaderOptions(mode: .train, sampler: sampler, size: model.imageSize, batchSize: batch, seed: 0)
        options.workers = threads

        func measure(_ store: FrameStore, _ split: DatasetFold) throws -> Double {
            let loader = try ClipLoader(clips: split.train, store: store, options: options, logger: logger)
            _ = try loader.batch(loader.batchPlan(epoch: 0)[0], epoch: 0)  // warm-up (page cache, decoders)
            let start = DispatchTime.now().uptimeNanoseconds
            var loaded = 0
            let sequence = loader.batches(epoch: 1)
            while let next = sequence.next() {
                loaded += try next.get().labels.count
            }
            return Double(loaded) / (Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let index = try DatasetIndex.load(root: data.path, options: DatasetLoadOptions(folds: [1]), logger: logger)
        let jpeg = try measure(.jpegFolders, index.fold(1)!)
        let packed = try PackedCache(directory: cache.path, logger: logger)
        let cached = try measure(.cache(packed), packed.fold(1)!)

        let network = try GCAIALModel(configuration: model, seed: 0)
        var generator = SeededGenerator(seed: 1)
        let shape = [batch, model.frames, 3, model.imageSize, model.imageSize]
        let input = Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in generator.uniform() })
        let targets = (0..<batch).map { $0 % model.classes }
        var optimizer = SGD(learningRate: 1e-3, momentum: 0.9, weightDecay: 1e-4)
        func step() throws {
            let loss = try network(input, training: true).loss(targets: targets).total
            loss.backward()
            optimizer.step(network.parameters)
        }
        try step()
        let (_, median) = try time(repeats: steps, step)
        printJSON(["benchmark": "loader", "threads": threads, "batch": batch, "frames": model.frames, "size": model.imageSize,
                   "source_frames": sourceFrames, "source_size": sourceSize, "train_clips": index.fold(1)!.train.count,
                   "synth_clips_per_s": synth.clipsPerSecond, "prepare_frames_per_s": Double(prepare.frames) / max(prepare.seconds, 1e-9),
                   "jpeg_clips_per_s": jpeg, "cache_clips_per_s": cached,
                   "train_step_ms": median * 1e3, "train_clips_per_s": Double(batch) / median])
    }
}
