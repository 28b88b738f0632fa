/// Whether clips are drawn for training (random frames) or evaluation (fixed frames, no augmentation).
public enum SamplingMode: String, Sendable, CaseIterable {
    case train
    case test
}

/// Picks the T = U·V frames of a clip: U segments with V consecutive frames each (DFEW: 16×1,
/// FERV39k style: 8×2). Training takes a random start in each segment, testing the middle.
///
/// With `referenceQuirks` the reference code (`dataset_DFEW.py`) is reproduced exactly: clips with
/// fewer than T frames are not accepted; in training, seg = (n − V + 1) / U, start_i = i·seg + randint(seg),
/// else (n > U) U sorted random starts, else all zeros; in testing, tick = (n − V + 1)/U and
/// start_i = int(tick/2 + tick·i) when n > U + V − 1, else all zeros (so a clip of exactly 16 frames
/// is evaluated on frame 0 repeated). Without quirks every clip is accepted and the segments always
/// cover the whole clip: a clip shorter than T repeats its frames evenly.
public struct ClipSampler: Sendable, Equatable {
    /// U: the number of segments.
    public var segments: Int
    /// V: consecutive frames taken from each segment.
    public var framesPerSegment: Int
    public var referenceQuirks: Bool

    public init(segments: Int = 16, framesPerSegment: Int = 1, referenceQuirks: Bool = false) {
        precondition(segments > 0 && framesPerSegment > 0, "segments and framesPerSegment must be positive")
        self.segments = segments
        self.framesPerSegment = framesPerSegment
        self.referenceQuirks = referenceQuirks
    }

    /// T = U·V, the frames per sampled clip.
    public var length: Int { segments * framesPerSegment }

    /// Whether a clip of `frameCount` frames is used at all (the reference drops clips shorter than T).
    public func accepts(frameCount: Int) -> Bool {
        frameCount >= (referenceQuirks ? length : 1)
    }

    /// The T frame indices (0-based, in playback order per segment) for a clip of `frameCount` ≥ 1 frames.
    public func indices(frameCount n: Int, mode: SamplingMode, using rng: inout SplitMix64) -> [Int] {
        precondition(n > 0, "a clip needs at least one frame")
        let starts = referenceQuirks ? referenceStarts(n, mode, &rng) : evenStarts(n, mode, &rng)
        var result = [Int]()
        result.reserveCapacity(length)
        for start in starts {
            var p = start
            for _ in 0..<framesPerSegment {
                result.append(min(p, n - 1))
                if p < n - 1 { p += 1 }
            }
        }
        return result
    }

    /// The indices for clip `clip` (its position in the clip list) in `epoch`, from its own random stream.
    public func indices(frameCount n: Int, mode: SamplingMode, seed: UInt64, epoch: Int, clip: Int) -> [Int] {
        var rng = SeededRandom.generator(seed: seed, purpose: .sampling, epoch: epoch, clip: clip)
        return indices(frameCount: n, mode: mode, using: &rng)
    }

    private func referenceStarts(_ n: Int, _ mode: SamplingMode, _ rng: inout SplitMix64) -> [Int] {
        let u = segments, v = framesPerSegment
        switch mode {
        case .train:
            let seg = (n - v + 1) / u
            if seg > 0 {
                return (0..<u).map { $0 * seg + rng.integer(below: seg) }
            }
            if n > u {
                return (0..<u).map { _ in rng.integer(below: n - v + 1) }.sorted()
            }
            return Array(repeating: 0, count: u)
        case .test:
            guard n > u + v - 1 else { return Array(repeating: 0, count: u) }
            let tick = Double(n - v + 1) / Double(u)
            return (0..<u).map { Int(tick / 2 + tick * Double($0)) }
        }
    }

    private func evenStarts(_ n: Int, _ mode: SamplingMode, _ rng: inout SplitMix64) -> [Int] {
        let u = segments
        let starts = max(n - framesPerSegment + 1, 1)
        switch mode {
        case .train:
            return (0..<u).map { i in
                let low = i * starts / u
                let high = max(low + 1, (i + 1) * starts / u)
                return low + rng.integer(below: high - low)
            }
        case .test:
            return (0..<u).map { i in (2 * i + 1) * starts / (2 * u) }
        }
    }
}
