@testable import FerdData
import Logging
import XCTest

/// FERV39k and RAF-DB: detection, both split formats, labels mapped by name, the single split, the errors for bad
/// lines, unknown classes and missing frames (each naming the file, the line and the fix), and synthetic datasets in
/// both layouts through the index, the packed cache and the loader.
final class SingleSplitLayoutTests: XCTestCase {
    private var tree: TemporaryTree!
    private var root: String { tree.root }
    private let quiet: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        return logger
    }()

    override func setUpWithError() throws {
        tree = try TemporaryTree(prefix: "ferd-single-split")
    }

    override func tearDownWithError() throws {
        tree.remove()
    }

    private func write(_ relative: String, _ text: String = "") throws {
        try tree.write(relative, text)
    }

    /// Three FERV39k clips (Action/Sad/0010: 3 frames, War/Fear/0002: 5, Argue/Happy/0001: 2) and the split files.
    private func makeFERV39k(train: String, test: String = "Argue/Happy/0001 Happy\n") throws {
        for (clip, count) in [("Action/Sad/0010", 3), ("War/Fear/0002", 5), ("Argue/Happy/0001", 2)] {
            for f in 1...count { try write("2_ClipsforFaceCrop/\(clip)/\(SyntheticDataset.padded(f, digits: 4)).jpg") }
        }
        try write("4_setups/All_scenes/train_All.csv", train)
        try write("4_setups/All_scenes/test_All.csv", test)
    }

    /// RAF-DB images train_00001, train_00002 and test_0001 with the label file `labels`.
    private func makeRAFDB(_ labels: String, in folder: String = "basic") throws {
        for name in ["train_00001", "train_00002", "test_0001"] {
            try write("\(folder)/Image/aligned/\(name)_aligned.jpg")
        }
        try write("\(folder)/EmoLabel/list_patition_label.txt", labels)
    }

    private func assertProblem(_ needle: String, file: String, line: Int, skippedID: String,
                               sourceLine: UInt = #line) throws {
        XCTAssertThrowsError(try DatasetIndex.load(root: root, logger: quiet), line: sourceLine) { error in
            let error = error as? DataError
            XCTAssertEqual(error?.file.hasSuffix(file), true, "\(String(describing: error))", line: sourceLine)
            XCTAssertEqual(error?.line, line, "\(String(describing: error))", line: sourceLine)
            XCTAssertTrue(error?.description.contains(needle) == true, "\(String(describing: error))", line: sourceLine)
            XCTAssertTrue(error?.description.contains("Fix:") == true, line: sourceLine)
        }
        let index = try DatasetIndex.load(root: root, options: DatasetLoadOptions(skipBad: true), logger: quiet)
        XCTAssertEqual(index.skipped.map(\.id), [skippedID], "\(index.skipped)", line: sourceLine)
        let fold = try XCTUnwrap(index.fold(1), line: sourceLine)
        XCTAssertFalse((fold.train + fold.test).contains { $0.id == skippedID }, line: sourceLine)
    }

    func testDetection() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\n")
        XCTAssertEqual(try DatasetLayout.detect(root: root), .ferv39k)
        let rafdb = root + "/raf"
        try makeRAFDB("train_00001.jpg 1\n", in: "raf/basic")
        XCTAssertEqual(try DatasetLayout.detect(root: rafdb), .rafdb)
        XCTAssertEqual(try DatasetLayout.detect(root: rafdb + "/basic"), .rafdb, "the basic folder itself")
        XCTAssertEqual(try DatasetIndex.load(root: rafdb + "/basic", logger: quiet).fold(1)?.train.map(\.id), ["train_00001"])
    }

    func testFERV39kOfficialLines() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\nWar/Fear/0002 Fear\n")
        let index = try DatasetIndex.load(root: root, logger: quiet)
        XCTAssertEqual(index.layout, .ferv39k)
        XCTAssertEqual(index.folds.map(\.number), [1])
        let fold = try XCTUnwrap(index.fold(1))
        XCTAssertEqual(fold.train.map(\.id), ["Action/Sad/0010", "War/Fear/0002"])
        XCTAssertEqual(fold.train.map(\.emotion), [.sad, .fear])
        XCTAssertEqual(fold.train.map(\.frames.count), [3, 5])
        XCTAssertEqual(fold.train[0].directory, root + "/2_ClipsforFaceCrop/Action/Sad/0010")
        XCTAssertEqual(fold.test.map(\.id), ["Argue/Happy/0001"])
        XCTAssertEqual(fold.test[0].label, 0)
    }

    func testFERV39kToleratedForms() throws {
        // A header, commas, CRLF, a Former-DFER list line with a foreign absolute path, a line without a class.
        try makeFERV39k(train: "path,label\r\nAction/Sad/0010,sad\r\n/data/FERV39k/2_ClipsforFaceCrop/War/Fear/0002 5 6\r\n",
                        test: "Argue/Happy/0001\n")
        let fold = try XCTUnwrap(try DatasetIndex.load(root: root, logger: quiet).fold(1))
        XCTAssertEqual(fold.train.map(\.id), ["Action/Sad/0010", "War/Fear/0002"])
        XCTAssertEqual(fold.train.map(\.emotion), [.sad, .fear])
        XCTAssertEqual(fold.test.map(\.emotion), [.happy])
    }

    func testFERV39kUnknownClassName() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\nWar/Fear/0002 Scared\n")
        try assertProblem("unknown class name `Scared`", file: "train_All.csv", line: 2, skippedID: "War/Fear/0002")
        XCTAssertThrowsError(try DatasetIndex.load(root: root, logger: quiet)) {
            XCTAssertTrue("\($0)".contains("use one of Happy, Sad, Neutral, Angry, Surprise, Disgust, Fear"), "\($0)")
        }
    }

    func testFERV39kClassMustAgreeWithTheFolder() throws {
        try makeFERV39k(train: "Action/Sad/0010 Happy\n")
        try assertProblem("disagrees with the clip's folder `Sad`", file: "train_All.csv", line: 1,
                          skippedID: "Action/Sad/0010")
    }

    func testFERV39kMalformedLine() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\n0010 Sad extra words\n")
        try assertProblem("expected `<Scene>/<Emotion>/<clip> <Emotion>`", file: "train_All.csv", line: 2,
                          skippedID: "0010 Sad extra words")
    }

    func testFERV39kMissingAndEmptyClipFolders() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\nAction/Sad/0099 Sad\n")
        try assertProblem("Action/Sad/0099 does not exist", file: "train_All.csv", line: 2, skippedID: "Action/Sad/0099")
        try makeFERV39k(train: "Action/Sad/0010 Sad\n")
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/2_ClipsforFaceCrop/Argue/Happy/0001") {
            try FileManager.default.removeItem(atPath: root + "/2_ClipsforFaceCrop/Argue/Happy/0001/" + name)
        }
        try assertProblem("has no .jpg frames", file: "test_All.csv", line: 1, skippedID: "Argue/Happy/0001")
    }

    func testFERV39kMissingSplitFile() throws {
        try makeFERV39k(train: "Action/Sad/0010 Sad\n")
        try FileManager.default.removeItem(atPath: root + "/4_setups/All_scenes/test_All.csv")
        XCTAssertThrowsError(try DatasetIndex.load(root: root, logger: quiet)) {
            XCTAssertTrue("\($0)".contains("test_All.csv: split file is missing"), "\($0)")
        }
    }

    func testRAFDBLabelsAreMappedByName() throws {
        // RAF-DB: 1 Surprise 2 Fear 3 Disgust 4 Happiness 5 Sadness 6 Anger 7 Neutral. Mapped by index (label − 1)
        // these would be ferd's 0 Happy, 3 Angry and 5 Disgust instead.
        XCTAssertEqual((1...7).map { RAFDBLabels.emotion(rafLabel: $0) },
                       [.surprise, .fear, .disgust, .happy, .sad, .angry, .neutral])
        XCTAssertEqual(Emotion.allCases.map(RAFDBLabels.rafLabel), [4, 5, 7, 6, 1, 3, 2])
        try makeRAFDB("train_00001.jpg 1\ntrain_00002.jpg 4\ntest_0001.jpg 6\n")
        let index = try DatasetIndex.load(root: root, logger: quiet)
        XCTAssertEqual(index.layout, .rafdb)
        let fold = try XCTUnwrap(index.fold(1))
        XCTAssertEqual(fold.train.map(\.id), ["train_00001", "train_00002"])
        XCTAssertEqual(fold.train.map(\.emotion), [.surprise, .happy])
        XCTAssertEqual(fold.test.map(\.emotion), [.angry])
        XCTAssertEqual(fold.test[0].frames, [root + "/basic/Image/aligned/test_0001_aligned.jpg"])
        XCTAssertEqual(fold.test[0].directory, root + "/basic/Image/aligned")
        XCTAssertEqual(try index.distinctClips().count, 3, "clips sharing a folder stay distinct")
    }

    func testRAFDBLabelOutOfRange() throws {
        try makeRAFDB("train_00001.jpg 1\ntest_0001.jpg 0\n")
        try assertProblem("label `0` is not in 1…7", file: "list_patition_label.txt", line: 2, skippedID: "test_0001")
    }

    func testRAFDBMalformedLines() throws {
        for text in ["train_00002.jpg\n", "val_0001.jpg 3\n", "train_00002 4\n"] {
            try makeRAFDB("train_00001.jpg 1\n" + text)
            XCTAssertThrowsError(try DatasetIndex.load(root: root, logger: quiet)) { error in
                let error = error as? DataError
                XCTAssertEqual(error?.line, 2)
                XCTAssertTrue(error?.description.contains("expected `<train_|test_><number>.jpg <label 1-7>`") == true,
                              "\(String(describing: error))")
            }
        }
    }

    func testRAFDBMissingAlignedImage() throws {
        try makeRAFDB("train_00001.jpg 1\ntrain_00003.jpg 2\n")
        try assertProblem("train_00003_aligned.jpg does not exist", file: "list_patition_label.txt", line: 2,
                          skippedID: "train_00003")
        XCTAssertThrowsError(try DatasetIndex.load(root: root, logger: quiet)) {
            XCTAssertTrue("\($0)".contains("Fix: extract the aligned faces (basic/Image/aligned)"), "\($0)")
        }
    }

    func testSingleSplitIsFoldOne() throws {
        try makeRAFDB("train_00001.jpg 1\n")
        XCTAssertEqual(try DatasetIndex.load(root: root, logger: quiet).folds.map(\.number), [1])
        XCTAssertThrowsError(try DatasetIndex.load(root: root, options: DatasetLoadOptions(folds: [1, 2]), logger: quiet)) {
            let text = "\($0)"
            XCTAssertTrue(text.contains("fold 2 does not exist: RAF-DB has one train/test split, fold 1"), text)
            XCTAssertTrue(text.contains("Fix: use fold 1"), text)
        }
        XCTAssertEqual(DatasetLayout.ferv39k.folds, [1])
        XCTAssertEqual(DatasetLayout.official.folds, [1, 2, 3, 4, 5])
    }

    func testSamplingFollowsTheDataset() {
        XCTAssertEqual(DatasetLayout.ferv39k.sampler(frames: 16, referenceQuirks: false),
                       ClipSampler(segments: 8, framesPerSegment: 2))
        XCTAssertEqual(DatasetLayout.ferv39k.sampler(frames: 7, referenceQuirks: false), ClipSampler(segments: 7))
        XCTAssertEqual(DatasetLayout.reorganised.sampler(frames: 16, referenceQuirks: true),
                       ClipSampler(segments: 16, referenceQuirks: true))
        let rafdb = DatasetLayout.rafdb.sampler(frames: 8, referenceQuirks: true)
        XCTAssertFalse(rafdb.referenceQuirks, "the DFEW reference quirks would drop every 1-frame clip")
        var rng = SplitMix64(seed: 1)
        for mode in SamplingMode.allCases {
            XCTAssertEqual(rafdb.indices(frameCount: 1, mode: mode, using: &rng), [Int](repeating: 0, count: 8))
        }
    }

    /// `ferd synth --layout ferv39k|rafdb` reads back as written, and through a packed cache and the loader.
    func testSyntheticLayoutsRoundTrip() throws {
        for layout in [SyntheticLayout.ferv39k, .rafdb] {
            let data = root + "/\(layout.rawValue)", cacheDirectory = root + "/\(layout.rawValue)-cache"
            let dataset = SyntheticDataset(clips: 20, frames: 3...6, size: 24, seed: 3)
            let report = try dataset.write(to: URL(fileURLWithPath: data), layout: layout, logger: quiet)
            XCTAssertEqual(report.frames, layout == .rafdb ? 20 : (0..<20).map(dataset.frameCount).reduce(0, +))
            let index = try DatasetIndex.load(root: data, logger: quiet)
            XCTAssertEqual(index.layout, layout.datasetLayout)
            let fold = try XCTUnwrap(index.fold(1))
            XCTAssertEqual(Set(fold.test.map(\.id)), Set(dataset.testFolds()[0].map { dataset.plan(layout).ids[$0] }))
            XCTAssertEqual(fold.train.count + fold.test.count, 20)
            let ids = dataset.plan(layout).ids
            for clip in fold.train + fold.test {
                let k = try XCTUnwrap(ids.firstIndex(of: clip.id))
                XCTAssertEqual(clip.emotion, dataset.emotion(ofClip: k), "\(layout) clip \(clip.id)")
                XCTAssertEqual(clip.frames.count, layout == .rafdb ? 1 : dataset.frameCount(ofClip: k))
            }
            XCTAssertThrowsError(try dataset.write(to: URL(fileURLWithPath: data), layout: layout, logger: quiet))

            let prepared = try PackedCacheWriter.prepare(dataRoot: data, cacheDirectory: cacheDirectory,
                                                         options: PrepareOptions(size: 16, workers: 2), logger: quiet)
            XCTAssertEqual(prepared.clips, 20)
            let cache = try PackedCache(directory: cacheDirectory, logger: quiet)
            XCTAssertEqual(cache.layout, layout.datasetLayout)
            XCTAssertNoThrow(try cache.verifyDataset(logger: quiet))
            let cached = try XCTUnwrap(cache.fold(1))
            XCTAssertEqual(cached.train, fold.train.sorted { $0.id < $1.id }, "the cache holds its clips sorted by id")
            XCTAssertEqual(cached.test, fold.test.sorted { $0.id < $1.id })
            XCTAssertNil(cache.fold(2))

            let sampler = layout.datasetLayout.sampler(frames: 4, referenceQuirks: false)
            let options = ClipLoaderOptions(mode: .test, sampler: sampler, size: 16, batchSize: 4, seed: 0)
            let loader = try ClipLoader(clips: cached.test, store: .cache(cache), options: options, logger: quiet)
            let direct = try ClipLoader(clips: cached.test, store: .jpegFolders, options: options, logger: quiet)
            let batch = try XCTUnwrap(loader.batches(epoch: 0).next()).get()
            XCTAssertEqual(batch.values, try XCTUnwrap(direct.batches(epoch: 0).next()).get().values)
            let frame = 3 * 16 * 16
            if layout == .rafdb {
                for t in 1..<4 {
                    XCTAssertEqual(batch.values[t * frame..<(t + 1) * frame], batch.values[0..<frame], "the image repeats")
                }
            }
        }
    }

    func testSyntheticFERV39kFiles() throws {
        let dataset = SyntheticDataset(clips: 10, frames: 2...2, size: 16, seed: 1)
        let report = try dataset.write(to: URL(fileURLWithPath: root), layout: .ferv39k, logger: quiet)
        XCTAssertEqual(report.splitFiles, ["4_setups/All_scenes/train_All.csv", "4_setups/All_scenes/test_All.csv"])
        let train = try String(contentsOfFile: root + "/4_setups/All_scenes/train_All.csv", encoding: .utf8)
        let first = try XCTUnwrap(train.split(separator: "\n").first)
        let fields = first.split(separator: " ")
        XCTAssertEqual(fields.count, 2)
        XCTAssertEqual(fields[0].split(separator: "/").count, 3)
        XCTAssertEqual(fields[0].split(separator: "/")[1], fields[1], "the class folder is the class")
        let clip = root + "/2_ClipsforFaceCrop/" + fields[0]
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: clip).sorted(), ["0001.jpg", "0002.jpg"])
    }

    func testSyntheticRAFDBFiles() throws {
        let dataset = SyntheticDataset(clips: 10, size: 16, seed: 1)
        _ = try dataset.write(to: URL(fileURLWithPath: root), layout: .rafdb, logger: quiet)
        let labels = try String(contentsOfFile: root + "/basic/EmoLabel/list_patition_label.txt", encoding: .utf8)
        let lines = labels.split(separator: "\n")
        XCTAssertEqual(lines.count, 10)
        XCTAssertEqual(lines.first?.split(separator: " ").first, "train_00001.jpg")
        XCTAssertTrue(lines.contains { $0.hasPrefix("test_0001.jpg ") })
        let image = try JPEGDecoder().decodeFile(atPath: root + "/basic/Image/aligned/train_00001_aligned.jpg")
        XCTAssertEqual([image.width, image.height], [16, 16])
    }
}
