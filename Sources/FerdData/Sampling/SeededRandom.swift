@_exported import FerdRandom

/// Independent random streams for the data pipeline: one generator per (seed, purpose, epoch, clip),
/// so a clip's frames and augmentation depend only on those four and not on batch order or threads.
public enum SeededRandom {
    /// What a stream is used for; each purpose draws from its own stream.
    public enum Purpose: UInt64, Sendable {
        case sampling = 0x5A4D_1E00
        case augmentation = 0xA06E_0000
        case shuffle = 0x5AFF_1E00
    }

    /// The generator for `purpose` in `epoch` for the clip at position `clip` of the clip list.
    public static func generator(seed: UInt64, purpose: Purpose, epoch: Int, clip: Int) -> SplitMix64 {
        var epochStream = SplitMix64(seed: seed ^ purpose.rawValue, index: UInt64(bitPattern: Int64(epoch)))
        return SplitMix64(seed: epochStream.next(), index: UInt64(bitPattern: Int64(clip)))
    }
}

extension SplitMix64 {
    /// A uniform value in [0, 1) with 53 random bits (like Python's `random.random()`).
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1 / 9_007_199_254_740_992.0)
    }

    /// A uniform value in `low…high` (like Python's `random.uniform(low, high)`).
    public mutating func uniformDouble(_ low: Double, _ high: Double) -> Double {
        low + (high - low) * uniformDouble()
    }

    /// A uniform integer in `0..<count` (like numpy's `randint(count)`); `count` must be positive.
    public mutating func integer(below count: Int) -> Int {
        precondition(count > 0, "integer(below:) needs a positive count")
        return min(Int(uniformDouble() * Double(count)), count - 1)
    }

    /// A uniform integer in `low…high`, both included (like Python's `random.randint(low, high)`).
    public mutating func integer(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + integer(below: range.count)
    }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates), the same on every platform.
    public mutating func permutation(_ count: Int) -> [Int] {
        var order = Array(0..<count)
        var i = count - 1
        while i > 0 {
            order.swapAt(i, integer(below: i + 1))
            i -= 1
        }
        return order
    }
}
