@testable import FerdExperiment
import XCTest

/// The Sobol sequence against known points.
final class SobolSequenceTests: XCTestCase {
    func testSobolFirstPoints() {
        let one = SobolSequence(dimensions: 1)
        XCTAssertEqual((0...8).map { one.point($0)[0] }, [0, 0.5, 0.75, 0.25, 0.375, 0.875, 0.625, 0.125, 0.1875])
        let two = SobolSequence(dimensions: 2)
        XCTAssertEqual((1...8).map { two.point($0)[1] }, [0.5, 0.25, 0.75, 0.375, 0.875, 0.125, 0.625, 0.3125])
        // All 21 dimensions against scipy.stats.qmc.Sobol(21, scramble=False, bits=32), coordinates × 2³².
        let all = SobolSequence(dimensions: SobolSequence.maximumDimensions)
        XCTAssertEqual(SobolSequence.maximumDimensions, 21)
        XCTAssertEqual(all.bits(100), [1_778_384_896, 1_107_296_256, 3_321_888_768, 3_120_562_176, 3_791_650_816, 3_187_671_040,
                                       100_663_296, 2_046_820_352, 2_717_908_992, 2_986_344_448, 1_979_711_488, 2_919_235_584,
                                       2_046_820_352, 3_657_433_088, 1_375_731_712, 2_113_929_216, 2_919_235_584, 3_187_671_040,
                                       3_590_324_224, 1_442_840_576, 3_254_779_904])
        XCTAssertEqual(all.bits(65535), [65536, 4_294_901_760, 2_421_489_664, 3_271_884_800, 1_085_997_056, 2_344_288_256,
                                         2_221_342_720, 3_125_346_304, 3_844_407_296, 703_922_176, 739_180_544, 308_740_096,
                                         4_013_359_104, 1_409_875_968, 1_977_548_800, 2_058_420_224, 687_538_176, 800_260_096,
                                         566_296_576, 1_879_244_800, 2_432_892_928])
    }
}
