@testable import FerdData
import XCTest

/// Layout detection, split parsing, numeric frame order and the errors for bad input.
final class LayoutTests: XCTestCase {
    private var tree: TemporaryTree!
    private var root: String { tree.root }

    override func setUpWithError() throws {
        tree = try TemporaryTree(prefix: "ferd-layout")
    }

    override func tearDownWithError() throws {
        tree.remove()
    }

    private func write(_ relative: String, _ text: String = "") throws {
        try tree.write(relative, text)
    }

    private func makeClip(_ folder: String, frames: [String]) throws {
        try FileManager.default.createDirectory(atPath: root + "/" + folder, withIntermediateDirectories: true)
        for name in frames { try write(folder + "/" + name) }
    }

    /// Reorganised layout with clips 1…10; fold k tests clips {2k−1, 2k}.
    private func makeReorganised() throws {
        for id in 1...10 {
            let name = SyntheticDataset.zeroPadded(id)
            try makeClip("data/" + name, frames: (1...3).map { "\(name)_\(SyntheticDataset.zeroPadded($0)).jpg" })
        }
        for fold in 1...5 {
            let test = [2 * fold - 1, 2 * fold]
            let train = (1...10).filter { !test.contains($0) }
            try write("label/single_testset_\(fold).csv", "video_name,label\n" + test.map { "\($0),\(($0 % 7) + 1)\n" }.joined())
            try write("label/single_trainset_\(fold).csv", "video_name,label\n" + train.map { "\($0),\(($0 % 7) + 1)\n" }.joined())
        }
    }

    func testFrameNumbersSortNumerically() {
        XCTAssertEqual(FrameListing.frameNumber("2.jpg"), 2)
        XCTAssertEqual(FrameListing.frameNumber("00001_00010.jpg"), 10)
        XCTAssertEqual(FrameListing.frameNumber("frame.jpg"), -1)
    }

    func testReorganisedLayout() throws {
        try makeReorganised()
        XCTAssertEqual(try DatasetLayout.detect(root: root), .reorganised)
        let index = try DatasetIndex.load(root: root)
        XCTAssertEqual(index.layout, .reorganised)
        XCTAssertEqual(index.folds.count, 5)
        let fold2 = try XCTUnwrap(index.fold(2))
        XCTAssertEqual(fold2.test.map(\.id), ["00003", "00004"])
        XCTAssertEqual(fold2.train.count, 8)
        XCTAssertEqual(fold2.test[0].label, 3 % 7)
        XCTAssertEqual(fold2.test[0].frames.map { ($0 as NSString).lastPathComponent },
                       ["00003_00001.jpg", "00003_00002.jpg", "00003_00003.jpg"])
        XCTAssertTrue(index.skipped.isEmpty)
    }

    func testOfficialLayoutSortsFramesNumerically() throws {
        try makeClip("Clip/clip_224x224_16f/00001", frames: (1...12).map { "\($0).jpg" })
        try makeClip("Clip/clip_224x224_16f/00002", frames: ["1.jpg", "2.jpg"])
        for fold in 1...5 {
            try write("EmoLabel_DataSplit/train(single-labeled)/set_\(fold).csv", "video_name,label\r\n1,1\r\n")
            try write("EmoLabel_DataSplit/test(single-labeled)/set_\(fold).csv", "\u{FEFF}video_name,label\r\n2,7\r\n")
        }
        let index = try DatasetIndex.load(root: root)
        XCTAssertEqual(index.layout, .official)
        let fold = try XCTUnwrap(index.fold(1))
        XCTAssertEqual(fold.train[0].frames.map { ($0 as NSString).lastPathComponent }, (1...12).map { "\($0).jpg" })
        XCTAssertEqual(fold.test[0].emotion, .fear)
        XCTAssertThrowsError(try DatasetIndex.load(root: root, options: DatasetLoadOptions(officialClips: "original"))) {
            XCTAssertTrue("\($0)".contains("original"), "\($0)")
        }
    }

    func testListFilesWithForeignAbsolutePaths() throws {
        try makeClip("Clip/clip_224x224/00007", frames: ["10.jpg", "2.jpg", "1.jpg"])
        try makeClip("Clip/clip_224x224/00008", frames: ["1.jpg"])
        for fold in 1...5 {
            try write("annotation/set_\(fold)_train.txt", "/home/someone/DFEW/Clip/clip_224x224/00007 3 4\r\n")
            try write("annotation/set_\(fold)_test.txt", "Clip/clip_224x224/00008 1 0\n\n")
        }
        let index = try DatasetIndex.load(root: root, options: DatasetLoadOptions(folds: [3]))
        XCTAssertEqual(index.layout, .lists)
        let fold = try XCTUnwrap(index.fold(3))
        XCTAssertEqual(fold.train[0].id, "00007")
        XCTAssertEqual(fold.train[0].label, 4)
        XCTAssertEqual(fold.train[0].frames.map { ($0 as NSString).lastPathComponent }, ["1.jpg", "2.jpg", "10.jpg"])
        XCTAssertEqual(fold.test[0].emotion, .happy)
    }

    func testUnknownLayoutNamesTheFolder() {
        XCTAssertThrowsError(try DatasetIndex.load(root: root)) { XCTAssertTrue("\($0)".contains(root)) }
    }

    func testExplicitLayoutOverridesDetection() throws {
        try makeReorganised()
        XCTAssertThrowsError(try DatasetIndex.load(root: root, options: DatasetLoadOptions(layout: .lists))) {
            XCTAssertTrue("\($0)".contains("set_1_train.txt"), "\($0)")
        }
    }

    private func assertProblem(_ needle: String, file: String, line: Int, skippedID: String, dropped: Bool = true,
                               sourceLine: UInt = #line) throws {
        XCTAssertThrowsError(try DatasetIndex.load(root: root), line: sourceLine) { error in
            let error = error as? DataError
            XCTAssertEqual(error?.file.hasSuffix(file), true, "\(String(describing: error))", line: sourceLine)
            XCTAssertEqual(error?.line, line, line: sourceLine)
            XCTAssertTrue(error?.description.contains(needle) == true, "\(String(describing: error))", line: sourceLine)
            XCTAssertTrue(error?.description.contains("Fix:") == true, line: sourceLine)
        }
        let index = try DatasetIndex.load(root: root, options: DatasetLoadOptions(skipBad: true))
        XCTAssertTrue(index.skipped.contains { $0.id == skippedID && $0.reason.description.contains(needle) },
                      "\(index.skipped)", line: sourceLine)
        let fold = try XCTUnwrap(index.fold(index.skipped[0].fold))
        XCTAssertEqual((fold.train + fold.test).filter { $0.id == skippedID }.count, dropped ? 0 : 1, line: sourceLine)
    }

    func testMissingClipFolder() throws {
        try makeReorganised()
        try FileManager.default.removeItem(atPath: root + "/data/00002")
        try assertProblem("does not exist", file: "single_testset_1.csv", line: 3, skippedID: "00002")
    }

    func testEmptyClipFolder() throws {
        try makeReorganised()
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/data/00009") {
            try FileManager.default.removeItem(atPath: root + "/data/00009/" + name)
        }
        try assertProblem("no .jpg frames", file: "single_trainset_1.csv", line: 8, skippedID: "00009")
    }

    func testLabelOutOfRange() throws {
        try makeReorganised()
        try write("label/single_trainset_1.csv", "video_name,label\n3,8\n")
        try assertProblem("not in 1…7", file: "single_trainset_1.csv", line: 2, skippedID: "00003")
    }

    func testClipInTrainAndTest() throws {
        try makeReorganised()
        try write("label/single_trainset_1.csv", "video_name,label\n5,6\n2,3\n")
        try assertProblem("also in the test split", file: "single_trainset_1.csv", line: 3, skippedID: "00002",
                          dropped: false)
    }

    func testClipListedTwice() throws {
        try makeReorganised()
        try write("label/single_trainset_1.csv", "video_name,label\n5,6\n6,7\n5,6\n")
        try assertProblem("listed twice", file: "single_trainset_1.csv", line: 4, skippedID: "00005", dropped: false)
    }

    func testWrongColumnsAlwaysThrow() throws {
        try makeReorganised()
        try write("label/single_testset_4.csv", "name,emotion\n7,1\n")
        for skipBad in [false, true] {
            XCTAssertThrowsError(try DatasetIndex.load(root: root, options: DatasetLoadOptions(skipBad: skipBad))) {
                let error = $0 as? DataError
                XCTAssertEqual(error?.line, 1)
                XCTAssertTrue(error?.description.contains("video_name,label") == true)
            }
        }
    }

    func testSyntheticDatasetLoadsBack() throws {
        let dataset = SyntheticDataset(clips: 14, frames: 16...17, size: 16, seed: 4, classBalance: .balanced)
        _ = try dataset.write(to: URL(fileURLWithPath: root + "/synth"))
        let index = try DatasetIndex.load(root: root + "/synth")
        XCTAssertEqual(index.layout, .reorganised)
        for fold in index.folds {
            XCTAssertEqual(fold.train.count + fold.test.count, 14)
            for clip in fold.train + fold.test {
                let k = Int(clip.id)! - 1
                XCTAssertEqual(clip.label, dataset.emotion(ofClip: k).rawValue)
                XCTAssertEqual(clip.frames.count, dataset.frameCount(ofClip: k))
            }
        }
        XCTAssertEqual(Set(index.folds.flatMap { $0.test.map(\.id) }).count, 14)
    }
}
