import Dispatch
import Foundation
import Logging
import Synchronization

/// A deterministic synthetic stand-in for DFEW: procedurally drawn faces showing the 7 expressions
/// (see `docs/SYNTHETIC-DATA.md`). Clip k (0-based; id k + 1 on disk) depends only on (seed, k), so
/// a larger dataset with the same seed starts with the same clips.
public struct SyntheticDataset: Sendable {
    /// How many clips of each expression to make.
    public enum ClassBalance: Sendable {
        /// DFEW's proportions (Happy 2445, Sad 1894, Neutral 2669, Angry 2173, Surprise 1469,
        /// Disgust 145, Fear 902).
        case dfew
        /// The same share for every class.
        case balanced
    }

    /// How much besides the expression varies between clips (docs/SYNTHETIC-DATA.md).
    public enum Variability: String, Sendable, CaseIterable {
        /// Low intensities, occluders, talking, head pose, blur and noise as in the wild (DFEW's difficulty).
        case realistic
        /// Every clip clearly expressive, no occluders, talking or blur, and less pose, lighting and noise: learnable
        /// in minutes on a laptop (the demo).
        case mild
    }

    public static let foldCount = 5

    public var clips: Int
    /// Frames per clip: each clip draws its count uniformly from this range.
    public var frames: ClosedRange<Int>
    /// Frame width and height in pixels.
    public var size: Int
    public var seed: UInt64
    public var classBalance: ClassBalance
    public var variability: Variability

    public init(clips: Int, frames: ClosedRange<Int> = 16...16, size: Int = 112, seed: UInt64 = 0,
                classBalance: ClassBalance = .dfew, variability: Variability = .realistic) {
        precondition(clips > 0 && clips <= 99_999, "clips must be in 1…99999 (5-digit ids)")
        precondition(frames.lowerBound > 0 && frames.upperBound <= 99_999, "frames must be in 1…99999")
        precondition(size >= 16, "size must be at least 16 pixels")
        self.clips = clips
        self.frames = frames
        self.size = size
        self.seed = seed
        self.classBalance = classBalance
        self.variability = variability
    }

    /// The emotion of clip `k`: the inverse class CDF of a golden-ratio (low-discrepancy) sequence,
    /// so class counts stay within a few clips of the target proportions for every prefix.
    public func emotion(ofClip k: Int) -> Emotion {
        let weights = Emotion.allCases.map { Double(classBalance == .dfew ? $0.dfewCount : 1) }
        let total = weights.reduce(0, +)
        var start = SplitMix64(seed: seed, index: 0x5EED_C1A5)
        let offset = Double(start.next() >> 11) / Double(1 << 53)
        let u = (offset + Double(k) * 0.618_033_988_749_894_8).truncatingRemainder(dividingBy: 1)
        var cumulative = 0.0
        for (emotion, weight) in zip(Emotion.allCases, weights) {
            cumulative += weight / total
            if u < cumulative { return emotion }
        }
        return .fear
    }

    /// The number of frames of clip `k`.
    public func frameCount(ofClip k: Int) -> Int {
        var rng = SplitMix64(seed: seed ^ 0xF7A3_E5C0_0000_0000, index: UInt64(k))
        return frames.lowerBound + Int(rng.next() % UInt64(frames.count))
    }

    /// Renders clip `k` in memory.
    public func clip(_ k: Int) -> SyntheticClip {
        let recipe = SyntheticClipRecipe(emotion: emotion(ofClip: k), seed: seed, index: k, variability: variability)
        let count = frameCount(ofClip: k)
        let images = (0..<count).map { f in
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            pixels.withUnsafeMutableBufferPointer { recipe.render(frame: f, of: count, size: size, into: $0) }
            return RGBImage(width: size, height: size, pixels: pixels)
        }
        return SyntheticClip(emotion: recipe.emotion, intensity: recipe.intensity, frames: images)
    }

    /// The 5 test folds as sorted 0-based clip indices: disjoint, covering every clip, stratified by
    /// class (each class is shuffled and dealt round-robin, continuing where the last class stopped).
    public func testFolds() -> [[Int]] {
        var byClass = [[Int]](repeating: [], count: Emotion.allCases.count)
        for k in 0..<clips {
            byClass[emotion(ofClip: k).rawValue].append(k)
        }
        var folds = [[Int]](repeating: [], count: Self.foldCount)
        var next = 0
        for (label, var members) in byClass.enumerated() {
            var rng = SplitMix64(seed: seed ^ 0x0F01_D5F0_1D5F_01D5, index: UInt64(label))
            members.shuffle(using: &rng)
            for k in members {
                folds[next].append(k)
                next = (next + 1) % Self.foldCount
            }
        }
        return folds.map { $0.sorted() }
    }

    /// The 5-digit folder name of clip `k` (ids start at 00001).
    public static func clipName(_ k: Int) -> String {
        zeroPadded(k + 1)
    }

    static func zeroPadded(_ value: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 5 - digits.count)) + digits
    }
}

/// What `SyntheticDataset.write` produced.
public struct SyntheticWriteReport: Sendable {
    public var clips: Int
    public var frames: Int
    public var bytes: Int
    public var seconds: Double
    /// Clips per class, in label order.
    public var classCounts: [Int]
    /// The split files written, relative to the output folder.
    public var splitFiles: [String]

    public var clipsPerSecond: Double { Double(clips) / max(seconds, 1e-9) }
}

extension SyntheticDataset {
    /// Writes the dataset under `directory` in `layout` (see `SyntheticLayout`). DFEW's re-organised layout:
    /// `data/<id>/<id>_<frame>.jpg` (5-digit, 1-based) and `label/single_{train,test}set_{1..5}.csv`
    /// (`video_name,label`, label 1…7). RAF-DB clips are single images (frame 0 of a 1-frame clip, whatever
    /// `frames` says). Refuses to write into a folder that already holds one of the layout's top-level entries.
    public func write(to directory: URL, layout: SyntheticLayout = .dfew, quality: Int = 90,
                      logger: Logger = Logger(label: "ferd.data.synth")) throws -> SyntheticWriteReport {
        let start = DispatchTime.now().uptimeNanoseconds
        let fileManager = FileManager.default
        let plan = plan(layout)
        for existing in plan.roots.map(directory.appendingPathComponent) where fileManager.fileExists(atPath: existing.path) {
            throw DataError(file: existing.path, problem: "the output folder already holds a dataset",
                            fix: "choose an empty --out folder or delete \(existing.path)")
        }
        for folder in Set(plan.folders) {
            try fileManager.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        logger.info("writing synthetic clips", metadata: [
            "clips": "\(clips)", "frames": "\(frames)", "size": "\(size)", "seed": "\(seed)",
            "variability": "\(variability.rawValue)", "layout": "\(layout.rawValue)", "to": "\(directory.path)",
        ])
        let totals = Mutex((frames: 0, bytes: 0, error: DataError?.none))
        let workers = min(clips, ProcessInfo.processInfo.activeProcessorCount * 4)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            let encoder = JPEGEncoder()
            var pixels = [UInt8](repeating: 0, count: size * size * 3)
            var frameTotal = 0, byteTotal = 0
            var failure: DataError?
            pixels.withUnsafeMutableBufferPointer { buffer in
                for k in stride(from: worker, to: clips, by: workers) where failure == nil {
                    let folder = directory.appendingPathComponent(plan.folders[k])
                    do {
                        let written = try writeClip(k, names: plan.frameNames[k], into: folder, buffer: buffer,
                                                    encoder: encoder, quality: quality)
                        frameTotal += written.frames
                        byteTotal += written.bytes
                    } catch let error as DataError {
                        failure = error
                    } catch {
                        failure = DataError(file: folder.path, problem: "cannot write clip \(plan.ids[k]): \(error)",
                                            fix: "check free disk space and permissions")
                    }
                }
            }
            totals.withLock {
                $0.frames += frameTotal
                $0.bytes += byteTotal
                $0.error = $0.error ?? failure
            }
        }
        let (frameTotal, byteTotal, failure) = totals.withLock { ($0.frames, $0.bytes, $0.error) }
        if let failure { throw failure }
        for file in plan.splitFiles {
            let url = directory.appendingPathComponent(file.path)
            try fileManager.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: url)
        }
        var counts = [Int](repeating: 0, count: Emotion.allCases.count)
        for k in 0..<clips {
            counts[emotion(ofClip: k).rawValue] += 1
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let report = SyntheticWriteReport(clips: clips, frames: frameTotal, bytes: byteTotal, seconds: seconds,
                                          classCounts: counts, splitFiles: plan.splitFiles.map { $0.path })
        logger.info("wrote synthetic clips", metadata: [
            "clips": "\(clips)", "frames": "\(frameTotal)", "MB": "\(byteTotal / 1_000_000)",
            "clips/s": "\(Int(report.clipsPerSecond))",
        ])
        return report
    }

    /// Writes a dataset with the given settings; see `write(to:layout:quality:logger:)`.
    public static func write(to directory: URL, clips: Int, frames: ClosedRange<Int> = 16...16, size: Int = 112,
                             seed: UInt64 = 0, classBalance: ClassBalance = .dfew, variability: Variability = .realistic,
                             layout: SyntheticLayout = .dfew,
                             logger: Logger = Logger(label: "ferd.data.synth")) throws -> SyntheticWriteReport {
        try SyntheticDataset(clips: clips, frames: frames, size: size, seed: seed, classBalance: classBalance,
                             variability: variability)
            .write(to: directory, layout: layout, logger: logger)
    }

    private func writeClip(_ k: Int, names: [String], into folder: URL, buffer: UnsafeMutableBufferPointer<UInt8>,
                           encoder: JPEGEncoder, quality: Int) throws -> (frames: Int, bytes: Int) {
        let recipe = SyntheticClipRecipe(emotion: emotion(ofClip: k), seed: seed, index: k, variability: variability)
        var bytes = 0
        for (f, name) in names.enumerated() {
            recipe.render(frame: f, of: names.count, size: size, into: buffer)
            let jpeg = try encoder.encode(UnsafeBufferPointer(buffer), width: size, height: size, quality: quality)
            try FileWriter.write(jpeg, to: folder.appendingPathComponent(name).path)
            bytes += jpeg.count
        }
        return (names.count, bytes)
    }
}
