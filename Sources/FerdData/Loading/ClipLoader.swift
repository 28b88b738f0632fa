import FerdSystem
import Dispatch
import Foundation
import Logging
import Synchronization

/// Turns clip records into `ClipBatch`es: (B, T, 3, S, S) float32 in [0, 1], sampled with a
/// `ClipSampler`, augmented with `ClipAugmentation` in training, read from a packed cache or from
/// JPEG folders. An epoch's batches are built on a background thread while the previous ones are
/// consumed. Every random choice depends only on (seed, epoch, clip position), never on timing.
public final class ClipLoader: Sendable {
    /// The clips in use (with `referenceQuirks`, clips shorter than T are left out).
    public let clips: [ClipRecord]
    /// The clips left out because they are shorter than T (reference quirks only).
    public let dropped: [ClipRecord]
    public let options: ClipLoaderOptions
    private let store: FrameStore
    private let cached: [PackedClip]
    private let logger: Logger
    /// The positions of the clips left out because their frames could not be read (`options.skipBad`).
    private let bad = Mutex([Int: DataError]())

    /// A loader for `clips` read from `store`. With a cache, every clip must be in it with the same
    /// frame count, else this throws with the fix (re-run ferd prepare).
    public init(clips: [ClipRecord], store: FrameStore, options: ClipLoaderOptions,
                logger: Logger = Logger(label: "ferd.data.loader")) throws {
        var cached = [PackedClip]()
        var kept = [ClipRecord](), dropped = [ClipRecord]()
        for record in clips {
            var frameCount = record.frames.count
            if case let .cache(cache) = store {
                guard let entry = cache.clip(id: record.id) else {
                    throw DataError(file: cache.directory, problem: "clip \(record.id) is not in the packed cache",
                                    fix: "re-run `\(cache.prepareCommand)`")
                }
                if !record.frames.isEmpty && record.frames.count != entry.frameCount {
                    throw DataError(file: record.directory,
                                    problem: "clip \(record.id) has \(record.frames.count) frames but the cache holds \(entry.frameCount)",
                                    fix: "re-run `\(cache.prepareCommand)`")
                }
                frameCount = entry.frameCount
                if options.sampler.accepts(frameCount: frameCount) { cached.append(entry) }
            }
            if options.sampler.accepts(frameCount: frameCount) { kept.append(record) } else { dropped.append(record) }
        }
        self.clips = kept
        self.dropped = dropped
        self.cached = cached
        self.options = options
        self.store = store
        self.logger = logger
        if !dropped.isEmpty {
            logger.info("left out clips shorter than T (reference quirks)", metadata: [
                "dropped": "\(dropped.count)", "T": "\(options.sampler.length)",
            ])
        }
    }

    /// The clips left out so far because their frames could not be read (`options.skipBad`), with why.
    public var skipped: [(clip: ClipRecord, problem: DataError)] {
        bad.withLock { $0 }.sorted { $0.key < $1.key }.map { (clips[$0.key], $0.value) }
    }

    /// Batches per epoch.
    public var batchCount: Int {
        options.dropLast ? clips.count / options.batchSize : (clips.count + options.batchSize - 1) / options.batchSize
    }

    /// The clip positions of each batch of `epoch`, in order.
    public func batchPlan(epoch: Int) -> [[Int]] {
        var order = Array(clips.indices)
        if options.shuffle {
            var rng = SeededRandom.generator(seed: options.seed, purpose: .shuffle, epoch: epoch, clip: 0)
            order = rng.permutation(clips.count)
        }
        return (0..<batchCount).map { b in
            Array(order[(b * options.batchSize)..<min((b + 1) * options.batchSize, order.count)])
        }
    }

    /// The batches of `epoch`, built in the background up to `options.prefetch` ahead.
    public func batches(epoch: Int) -> ClipBatchSequence {
        batches(plan: batchPlan(epoch: epoch), epoch: epoch)
    }

    /// The batches of the clip positions in `plan` for `epoch`, built in the background.
    func batches(plan: [[Int]], epoch: Int) -> ClipBatchSequence {
        let queue = BatchQueue(capacity: options.prefetch)
        let thread = Thread { [self] in
            for positions in plan {
                if queue.isCancelled { break }
                let result: Result<ClipBatch, DataError>
                do {
                    let built = try batch(positions, epoch: epoch)
                    if built.labels.isEmpty && !positions.isEmpty { continue }
                    result = .success(built)
                } catch {
                    result = .failure(error as? DataError ?? DataError(file: "<loader>", problem: "\(error)", fix: "see the error"))
                }
                if !queue.put(result) { break }
                if case .failure = result { break }
            }
            queue.finish()
        }
        thread.name = "ferd.data.loader"
        thread.start()
        return ClipBatchSequence(queue: queue)
    }

    /// Builds the batch of the clips at `positions` (indices into `clips`) for `epoch`, on the calling
    /// thread and `options.workers` helpers. A clip whose frames cannot be read throws its `DataError`,
    /// or with `options.skipBad` is left out of this batch and of later ones, with a warning.
    public func batch(_ positions: [Int], epoch: Int) throws -> ClipBatch {
        let known = options.skipBad ? bad.withLock { $0 } : [:]
        let positions = positions.filter { known[$0] == nil }
        let t = options.sampler.length, s = options.size
        let clipFloats = t * 3 * s * s
        let failures = Mutex([Int: DataError]())
        let values = [Float](unsafeUninitializedCapacity: positions.count * clipFloats) { buffer, count in
            let shared = UncheckedSendable(buffer)
            let workers = Parallel.workers(for: positions.count, limit: options.workers)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let decoder: JPEGDecoder? = if case .jpegFolders = store { JPEGDecoder() } else { nil }
                for i in stride(from: worker, to: positions.count, by: workers) {
                    let output = UnsafeMutableBufferPointer(rebasing: shared.value[(i * clipFloats)..<((i + 1) * clipFloats)])
                    do {
                        try loadClip(positions[i], epoch: epoch, decoder: decoder, into: output)
                    } catch {
                        output.update(repeating: 0)
                        let problem = error as? DataError ?? DataError(file: clips[positions[i]].directory,
                                                                       problem: "\(error)", fix: "check the clip's frames")
                        failures.withLock { $0[i] = problem }
                    }
                }
            }
            count = positions.count * clipFloats
        }
        let failed = failures.withLock { $0 }
        guard !failed.isEmpty else {
            return ClipBatch(shape: [positions.count, t, 3, s, s], values: values,
                             labels: positions.map { clips[$0].label }, clipIDs: positions.map { clips[$0].id })
        }
        guard options.skipBad else { throw failed.min { $0.key < $1.key }!.value }
        for (place, problem) in failed.sorted(by: { $0.key < $1.key }) {
            bad.withLock { $0[positions[place]] = problem }
            logger.warning("skipped clip \(clips[positions[place]].id) (--skip-bad): \(problem)")
        }
        let kept = positions.indices.filter { failed[$0] == nil }
        var keptValues = [Float]()
        keptValues.reserveCapacity(kept.count * clipFloats)
        for place in kept { keptValues += values[(place * clipFloats)..<((place + 1) * clipFloats)] }
        return ClipBatch(shape: [kept.count, t, 3, s, s], values: keptValues,
                         labels: kept.map { clips[positions[$0]].label }, clipIDs: kept.map { clips[positions[$0]].id })
    }

    /// Samples, reads and transforms the clip at `position` into `output` (T·3·S·S floats).
    private func loadClip(_ position: Int, epoch: Int, decoder: JPEGDecoder?,
                          into output: UnsafeMutableBufferPointer<Float>) throws {
        let frames = try ClipFrames(clip: clips[position], cached: cached.isEmpty ? nil : cached[position],
                                    store: store, size: options.size, decoder: decoder)
        let indices = options.sampler.indices(frameCount: frames.count, mode: options.mode, seed: options.seed,
                                              epoch: epoch, clip: position)
        let side = frames.side
        let transform: FrameTransform
        if let augmentation = options.augmentation {
            let parameters = augmentation.parameters(width: side, height: side, seed: options.seed, epoch: epoch,
                                                     clip: position)
            transform = FrameTransform(parameters, width: side, height: side, size: options.size)
        } else {
            transform = FrameTransform(testingWidth: side, height: side, size: options.size)
        }
        let frameFloats = 3 * options.size * options.size
        for (t, index) in indices.enumerated() {
            let target = UnsafeMutableBufferPointer(rebasing: output[(t * frameFloats)..<((t + 1) * frameFloats)])
            try frames.withFrame(index) { transform.apply($0, into: target) }
        }
    }
}
