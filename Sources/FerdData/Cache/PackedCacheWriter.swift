import FerdSystem
import Dispatch
import Foundation
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Builds a `PackedCache`: decodes every frame of every clip once (in parallel, one JPEG decoder per
/// worker), resizes it to S×S with `BilinearResizer` and writes it at its precomputed offset.
public enum PackedCacheWriter {
    /// Prepares the cache of the dataset at `dataRoot` in `cacheDirectory` (created if needed; an
    /// existing cache there is replaced). `progress` is called about once a second; without it the
    /// progress goes to `logger`.
    public static func prepare(dataRoot: String, cacheDirectory: String, options: PrepareOptions = PrepareOptions(),
                               logger: Logger = Logger(label: "ferd.data.prepare"),
                               progress: (@Sendable (PrepareProgress) -> Void)? = nil) throws -> PrepareReport {
        precondition(options.size > 0, "the cache size must be positive")
        let start = DispatchTime.now().uptimeNanoseconds
        let index = try DatasetIndex.load(root: dataRoot, options: options.load, logger: logger)
        let clips = try index.distinctClips()
        let digest = DatasetDigest.compute(clips: clips, root: index.root, size: options.size)
        let frameBytes = options.size * options.size * 3
        var offsets = [Int]()
        var frameCount = 0
        for clip in clips {
            offsets.append(frameCount * frameBytes)
            frameCount += clip.record.frames.count
        }
        logger.info("preparing packed cache", metadata: [
            "data": "\(index.root)", "cache": "\(cacheDirectory)", "clips": "\(clips.count)",
            "frames": "\(frameCount)", "size": "\(options.size)", "MB": "\(frameCount * frameBytes / 1_000_000)",
        ])
        let files = try CacheFiles(directory: cacheDirectory)
        let failures: [Int: DataError]
        do {
            let output = try files.createFrames(bytes: frameCount * frameBytes)
            defer { close(output) }
            failures = try decodeAll(clips, offsets: offsets, frameCount: frameCount, output: output, options: options,
                                     start: start, logger: logger, progress: progress)
        } catch {
            files.discardFrames()
            throw error
        }
        try files.commitFrames()
        var packed = [PackedClip]()
        var skipped = index.skipped.map { PackedSkip(id: $0.id, reason: $0.reason.description) }
        for (i, clip) in clips.enumerated() {
            if let failure = failures[i] {
                skipped.append(PackedSkip(id: clip.record.id, reason: failure.description))
                continue
            }
            packed.append(PackedClip(
                id: clip.record.id, directory: DatasetDigest.relativePath(clip.record.directory, root: index.root),
                label: clip.record.label, frameCount: clip.record.frames.count, offset: offsets[i],
                trainFolds: clip.trainFolds, testFolds: clip.testFolds,
                frameNames: clip.record.frames.map { ($0 as NSString).lastPathComponent }.joined(separator: "\n")))
        }
        let written = packed.reduce(0) { $0 + $1.frameCount }
        try files.writeIndex(PackedCacheIndex(
            size: options.size, dataRoot: index.root, layout: index.layout.rawValue,
            officialClips: options.load.officialClips, skipBad: options.load.skipBad, folds: index.folds.map(\.number),
            digest: digest, totalFrames: written, clips: packed, skipped: skipped))
        let report = PrepareReport(cacheDirectory: cacheDirectory, clips: packed.count, frames: written,
                                   bytes: written * frameBytes,
                                   seconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9,
                                   digest: digest, skipped: skipped)
        logger.info("prepared packed cache", metadata: [
            "clips": "\(report.clips)", "frames": "\(report.frames)", "MB": "\(report.bytes / 1_000_000)",
            "skipped": "\(skipped.count)", "seconds": "\(Int(report.seconds))", "frames/s": "\(Int(report.framesPerSecond))",
        ])
        return report
    }

    private struct State {
        var clipsDone = 0
        var framesDone = 0
        var lastReport: UInt64
        var failures: [Int: DataError] = [:]
        var stop = false
    }

    /// Decodes and writes every clip; returns the clips that failed (only with `skipBad`, else throws).
    private static func decodeAll(_ clips: [DatasetClip], offsets: [Int], frameCount: Int, output: Int32,
                                  options: PrepareOptions, start: UInt64, logger: Logger,
                                  progress: (@Sendable (PrepareProgress) -> Void)?) throws -> [Int: DataError] {
        let state = Mutex(State(lastReport: start))
        let workers = Parallel.workers(for: clips.count, limit: options.workers)
        let size = options.size
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let decoder = JPEGDecoder()
            var resizers = [Int: BilinearResizer]()
            for i in stride(from: worker, to: clips.count, by: workers) {
                if state.withLock({ $0.stop }) { return }
                var failure: DataError?
                do {
                    try writeClip(clips[i].record, at: offsets[i], size: size, decoder: decoder, resizers: &resizers,
                                  output: output)
                } catch {
                    failure = error as? DataError ?? DataError(file: clips[i].record.directory, problem: "\(error)",
                                                               fix: "check the clip's frames")
                }
                let report: PrepareProgress? = state.withLock { s in
                    s.clipsDone += 1
                    s.framesDone += clips[i].record.frames.count
                    if let failure {
                        s.failures[i] = failure
                        s.stop = !options.load.skipBad
                    }
                    let now = DispatchTime.now().uptimeNanoseconds
                    guard now - s.lastReport >= 1_000_000_000 else { return nil }
                    s.lastReport = now
                    return PrepareProgress(clipsDone: s.clipsDone, clipCount: clips.count, framesDone: s.framesDone,
                                           frameCount: frameCount, seconds: Double(now - start) / 1e9)
                }
                if let report { emit(report, logger: logger, progress: progress) }
            }
        }
        let failures = state.withLock { $0.failures }
        if !options.load.skipBad, let first = failures.min(by: { $0.key < $1.key }) {
            throw first.value
        }
        return failures
    }

    private static func emit(_ report: PrepareProgress, logger: Logger, progress: (@Sendable (PrepareProgress) -> Void)?) {
        if let progress {
            progress(report)
            return
        }
        logger.info("prepare progress", metadata: [
            "clips": "\(report.clipsDone)/\(report.clipCount)", "frames": "\(report.framesDone)/\(report.frameCount)",
            "percent": "\(Int(report.fraction * 100))", "frames/s": "\(Int(report.framesPerSecond))",
            "left_s": "\(Int(report.secondsLeft))",
        ])
    }

    private static func writeClip(_ record: ClipRecord, at offset: Int, size: Int, decoder: JPEGDecoder,
                                  resizers: inout [Int: BilinearResizer], output: Int32) throws {
        let frameBytes = size * size * 3
        var square = [UInt8](repeating: 0, count: frameBytes)
        for (f, path) in record.frames.enumerated() {
            let image = try decoder.decodeFile(atPath: path)
            let key = image.width << 32 | image.height
            let resizer = resizers[key] ?? BilinearResizer(inputWidth: image.width, inputHeight: image.height,
                                                           outputWidth: size, outputHeight: size)
            resizers[key] = resizer
            image.pixels.withUnsafeBufferPointer { source in
                square.withUnsafeMutableBufferPointer { resizer.resize(source, into: $0) }
            }
            try CacheFiles.write(square, to: output, at: offset + f * frameBytes, path: path)
        }
    }
}
