@testable import FerdData
import XCTest

/// The synthetic generator: determinism, class balance, folds, the written layout and learnability.
final class SyntheticTests: XCTestCase {
    func testClipDependsOnlyOnSeedAndIndex() {
        let small = SyntheticDataset(clips: 5, frames: 16...20, size: 40, seed: 7)
        let large = SyntheticDataset(clips: 500, frames: 16...20, size: 40, seed: 7)
        let a = small.clip(3), b = large.clip(3), c = small.clip(3)
        XCTAssertTrue(a.frames == b.frames)
        XCTAssertTrue(a.frames == c.frames)
        XCTAssertEqual(a.emotion, b.emotion)
        XCTAssertTrue((16...20).contains(a.frames.count))
        XCTAssertEqual(a.frames[0].width, 40)
        XCTAssertTrue(SyntheticDataset(clips: 5, size: 40, seed: 8).clip(3).frames[0] != a.frames[0])
        XCTAssertTrue(a.frames[0] != a.frames[a.frames.count - 1])
    }

    func testExpressionChangesTheFace() {
        let recipe = { (e: Emotion) in SyntheticClipRecipe(emotion: e, seed: 3, index: 11) }
        func frame(_ e: Emotion) -> [UInt8] {
            var pixels = [UInt8](repeating: 0, count: 48 * 48 * 3)
            pixels.withUnsafeMutableBufferPointer { recipe(e).render(frame: 7, of: 15, size: 48, into: $0) }
            return pixels
        }
        XCTAssertTrue(frame(.neutral) == frame(.neutral))
        XCTAssertTrue(frame(.happy) != frame(.sad))
        XCTAssertTrue(frame(.surprise) != frame(.neutral))
    }

    func testClassProportions() {
        let dfew = SyntheticDataset(clips: 3000, seed: 1)
        var counts = [Int](repeating: 0, count: 7)
        for k in 0..<dfew.clips { counts[dfew.emotion(ofClip: k).rawValue] += 1 }
        for e in Emotion.allCases {
            XCTAssertEqual(Double(counts[e.rawValue]), 3000 * Double(e.dfewCount) / 11_697, accuracy: 4, "\(e)")
        }
        let balanced = SyntheticDataset(clips: 700, seed: 1, classBalance: .balanced)
        counts = [Int](repeating: 0, count: 7)
        for k in 0..<balanced.clips { counts[balanced.emotion(ofClip: k).rawValue] += 1 }
        XCTAssertTrue(counts.allSatisfy { abs($0 - 100) <= 2 }, "\(counts)")
    }

    func testFoldsAreDisjointCoveringAndStratified() {
        let dataset = SyntheticDataset(clips: 997, seed: 5)
        let folds = dataset.testFolds()
        XCTAssertEqual(folds.count, 5)
        XCTAssertEqual(folds.flatMap { $0 }.sorted(), Array(0..<997))
        XCTAssertLessThanOrEqual(folds.map(\.count).max()! - folds.map(\.count).min()!, 1)
        for e in Emotion.allCases {
            let perFold = folds.map { $0.filter { dataset.emotion(ofClip: $0) == e }.count }
            XCTAssertLessThanOrEqual(perFold.max()! - perFold.min()!, 1, "\(e): \(perFold)")
        }
    }

    func testWritesLayoutTwo() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-synth-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = try SyntheticDataset.write(to: directory, clips: 12, frames: 16...18, size: 32, seed: 2,
                                                classBalance: .balanced)
        XCTAssertEqual(report.clips, 12)
        XCTAssertEqual(report.classCounts.reduce(0, +), 12)
        let dataset = SyntheticDataset(clips: 12, frames: 16...18, size: 32, seed: 2, classBalance: .balanced)
        let fm = FileManager.default
        let clips = try fm.contentsOfDirectory(atPath: directory.appendingPathComponent("data").path).sorted()
        XCTAssertEqual(clips, (1...12).map { String(format: "%05d", $0) })
        let frames = try fm.contentsOfDirectory(atPath: directory.appendingPathComponent("data/00004").path).sorted()
        XCTAssertEqual(frames.count, dataset.frameCount(ofClip: 3))
        XCTAssertEqual(frames.first, "00004_00001.jpg")
        let image = try JPEGDecoder().decodeFile(atPath: directory.appendingPathComponent("data/00004/00004_00002.jpg").path)
        XCTAssertEqual([image.width, image.height], [32, 32])
        var tested = [String]()
        for fold in 1...5 {
            let test = try String(contentsOf: directory.appendingPathComponent("label/single_testset_\(fold).csv"), encoding: .utf8)
            let train = try String(contentsOf: directory.appendingPathComponent("label/single_trainset_\(fold).csv"), encoding: .utf8)
            let testRows = test.split(separator: "\n").map(String.init), trainRows = train.split(separator: "\n").map(String.init)
            XCTAssertEqual(testRows.first, "video_name,label")
            XCTAssertEqual(trainRows.first, "video_name,label")
            XCTAssertEqual(Set(testRows.dropFirst()).union(trainRows.dropFirst()).count, 12)
            XCTAssertTrue(Set(testRows.dropFirst()).isDisjoint(with: trainRows.dropFirst()))
            tested += testRows.dropFirst()
        }
        XCTAssertEqual(tested.count, 12)
        let expected = (0..<12).map { "\($0 + 1),\(dataset.emotion(ofClip: $0).dfewLabel)" }
        XCTAssertEqual(Set(tested), Set(expected))
        XCTAssertThrowsError(try SyntheticDataset.write(to: directory, clips: 1, size: 32))
    }

    /// A nearest-class-mean classifier on the apex face actions: clearly better than chance, far from
    /// perfect (low-intensity clips and resting faces overlap).
    func testMildClipsShowTheSameFacesMoreClearly() {
        for k in 0..<200 {
            let realistic = SyntheticClipRecipe(emotion: .fear, seed: 5, index: k)
            let mild = SyntheticClipRecipe(emotion: .fear, seed: 5, index: k, variability: .mild)
            XCTAssertEqual(mild.identity.faceHalfHeight, realistic.identity.faceHalfHeight, "the same person")
            XCTAssertEqual(mild.course.apexStart, realistic.course.apexStart, "the same time course")
            XCTAssertGreaterThanOrEqual(mild.intensity, 0.75)
            XCTAssertGreaterThanOrEqual(mild.intensity, realistic.intensity)
            XCTAssertEqual(mild.blurPasses, 0)
            XCTAssertEqual(mild.talking.amplitude, 0)
            XCTAssertLessThanOrEqual(abs(mild.pose.yaw), abs(realistic.pose.yaw))
            XCTAssertLessThanOrEqual(mild.noise, realistic.noise)
        }
        XCTAssertGreaterThan(nearestMeanAccuracy(.mild), nearestMeanAccuracy(.realistic) + 0.05)
    }

    func testExpressionsAreLearnableButNotTriviallySeparable() {
        let accuracy = nearestMeanAccuracy(.realistic)
        XCTAssertGreaterThan(accuracy, 0.5)
        XCTAssertLessThan(accuracy, 0.92)
    }

    /// How often the apex actions of a clip are nearest to the mean actions of its own class (7 classes).
    private func nearestMeanAccuracy(_ variability: SyntheticDataset.Variability) -> Double {
        func sample(_ k: Int) -> (Emotion, [Float]) {
            let recipe = SyntheticClipRecipe(emotion: Emotion(rawValue: k % 7)!, seed: 9, index: k, variability: variability)
            let apex = min(max((recipe.course.apexStart + recipe.course.apexEnd) / 2, 0), 1)
            let actions = recipe.actions(at: apex)
            return (recipe.emotion, (0..<FaceActions.count).map { actions[$0] })
        }
        let train = (0..<1400).map(sample), test = (1400..<2800).map(sample)
        var means = [[Float]](repeating: [Float](repeating: 0, count: FaceActions.count), count: 7)
        for (e, x) in train {
            for i in x.indices { means[e.rawValue][i] += x[i] / 200 }
        }
        let correct = test.filter { e, x in
            let distances = means.map { m in zip(m, x).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) }
            return distances.firstIndex(of: distances.min()!) == e.rawValue
        }.count
        return Double(correct) / Double(test.count)
    }
}
