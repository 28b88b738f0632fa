@testable import FerdData
import XCTest

/// Frame sampling against hand-computed cases of the reference formulas and of the even default.
final class ClipSamplerTests: XCTestCase {
    private let quirks = ClipSampler(segments: 16, framesPerSegment: 1, referenceQuirks: true)
    private let even = ClipSampler(segments: 16, framesPerSegment: 1)

    private func sample(_ sampler: ClipSampler, _ n: Int, _ mode: SamplingMode, clip: Int = 0) -> [Int] {
        sampler.indices(frameCount: n, mode: mode, seed: 7, epoch: 0, clip: clip)
    }

    func testReferenceDropsShortClips() {
        XCTAssertFalse(quirks.accepts(frameCount: 15))
        XCTAssertTrue(quirks.accepts(frameCount: 16))
        XCTAssertTrue(even.accepts(frameCount: 1))
        XCTAssertEqual(ClipSampler(segments: 8, framesPerSegment: 2, referenceQuirks: true).length, 16)
    }

    func testReferenceTestIndices() {
        XCTAssertEqual(sample(quirks, 16, .test), Array(repeating: 0, count: 16), "n = 16 reads frame 0 repeated")
        XCTAssertEqual(sample(quirks, 10, .test), Array(repeating: 0, count: 16))
        XCTAssertEqual(sample(quirks, 32, .test), (0..<16).map { 2 * $0 + 1 })
        // tick = 17/16: int(0.53125 + 1.0625 i).
        XCTAssertEqual(sample(quirks, 17, .test), [0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16])
        XCTAssertEqual(sample(quirks, 40, .test), [1, 3, 6, 8, 11, 13, 16, 18, 21, 23, 26, 28, 31, 33, 36, 38])
    }

    func testReferenceTrainIndices() {
        XCTAssertEqual(sample(quirks, 16, .train), Array(0..<16), "seg = 1: every frame once")
        XCTAssertEqual(sample(quirks, 12, .train), Array(repeating: 0, count: 16), "n ≤ 16 and seg = 0: zeros")
        for clip in 0..<20 {
            let indices = sample(quirks, 40, .train, clip: clip)
            for (i, index) in indices.enumerated() {
                XCTAssertTrue((2 * i)...(2 * i + 1) ~= index, "seg = 2: segment \(i) picked \(index)")
            }
        }
        // seg = (9 − 3 + 1) / 8 = 0 and n > U: 8 sorted random starts in [0, 7), each read 3 frames on.
        let sorted = ClipSampler(segments: 8, framesPerSegment: 3, referenceQuirks: true)
        for clip in 0..<20 {
            let indices = sample(sorted, 9, .train, clip: clip)
            let starts = stride(from: 0, to: 24, by: 3).map { indices[$0] }
            XCTAssertEqual(starts, starts.sorted())
            XCTAssertTrue(starts.allSatisfy { (0..<7).contains($0) })
            for s in 0..<8 {
                XCTAssertEqual(Array(indices[(3 * s)..<(3 * s + 3)]), [starts[s], starts[s] + 1, starts[s] + 2])
            }
        }
    }

    func testEvenTestIndices() {
        XCTAssertEqual(sample(even, 16, .test), Array(0..<16), "n = 16 uses every frame, unlike the reference")
        XCTAssertEqual(sample(even, 8, .test), (0..<16).map { $0 / 2 }, "short clips repeat frames evenly")
        XCTAssertEqual(sample(even, 32, .test), (0..<16).map { 2 * $0 + 1 })
        XCTAssertEqual(sample(even, 1, .test), Array(repeating: 0, count: 16))
    }

    func testEvenTrainIndices() {
        XCTAssertEqual(sample(even, 8, .train), (0..<16).map { $0 / 2 })
        XCTAssertEqual(sample(even, 16, .train), Array(0..<16))
        for clip in 0..<20 {
            for (i, index) in sample(even, 48, .train, clip: clip).enumerated() {
                XCTAssertTrue((3 * i)..<(3 * i + 3) ~= index)
            }
        }
    }

    func testSegmentsOfTwoFrames() {
        let sampler = ClipSampler(segments: 8, framesPerSegment: 2)
        // 31 possible starts; middles (2i + 1)·31/16 = 1, 5, 9, 13, 17, 21, 25, 29.
        XCTAssertEqual(sample(sampler, 32, .test), [1, 2, 5, 6, 9, 10, 13, 14, 17, 18, 21, 22, 25, 26, 29, 30])
        XCTAssertEqual(sample(sampler, 1, .test), Array(repeating: 0, count: 16))
        XCTAssertEqual(sample(sampler, 4, .test), [0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 2, 3, 2, 3, 2, 3])
        let train = sample(sampler, 100, .train)
        for s in 0..<8 {
            XCTAssertEqual(train[2 * s + 1], train[2 * s] + 1)
        }
    }

    func testSeededDeterminism() {
        let a = even.indices(frameCount: 200, mode: .train, seed: 1, epoch: 3, clip: 5)
        XCTAssertEqual(a, even.indices(frameCount: 200, mode: .train, seed: 1, epoch: 3, clip: 5))
        XCTAssertNotEqual(a, even.indices(frameCount: 200, mode: .train, seed: 1, epoch: 4, clip: 5))
        XCTAssertNotEqual(a, even.indices(frameCount: 200, mode: .train, seed: 1, epoch: 3, clip: 6))
        XCTAssertNotEqual(a, even.indices(frameCount: 200, mode: .train, seed: 2, epoch: 3, clip: 5))
    }

    func testPermutationIsDeterministic() {
        var a = SplitMix64(seed: 9), b = SplitMix64(seed: 9)
        let order = a.permutation(50)
        XCTAssertEqual(order, b.permutation(50))
        XCTAssertEqual(order.sorted(), Array(0..<50))
        XCTAssertNotEqual(order, Array(0..<50))
    }
}
