@testable import FerdModels
import FerdTensor
import Foundation
import XCTest

/// The configuration fields of the methods: defaults when missing, round trips, presets, validation.
final class MethodConfigurationTests: XCTestCase {
    func testNewFieldsDefaultWhenMissingAndRoundTrip() throws {
        let old = """
        {"frames": 8, "imageSize": 56, "widths": [16, 16, 32, 64, 64], "reduction": 16, "attention": "gca",
         "spatialTransformer": {"depth": 2, "heads": 2, "headDimension": 16, "hiddenDimension": 64},
         "temporalTransformer": {"depth": 2, "heads": 2, "headDimension": 16, "hiddenDimension": 128}, "classes": 7}
        """
        let decoded = try JSONDecoder().decode(ModelConfiguration.self, from: Data(old.utf8))
        XCTAssertEqual(decoded, .small)
        XCTAssertEqual(decoded.ranCrops, .fixed)
        XCTAssertEqual(decoded.sttAttention, .spaceTime)
        XCTAssertEqual(decoded.dropPath, 0.1)
        for method in ModelMethod.allCases {
            for name in ["paper", "small"] {
                var preset = try XCTUnwrap(ModelConfiguration.preset(named: name, method: method))
                XCTAssertEqual(preset.method, method)
                XCTAssertNoThrow(try preset.validate(), "\(method) \(name)")
                preset.sttAttention = .joint
                preset.attention = .gcaClip
                let json = try JSONEncoder().encode(preset)
                XCTAssertEqual(try JSONDecoder().decode(ModelConfiguration.self, from: json), preset)
            }
        }
        XCTAssertTrue(String(decoding: try JSONEncoder().encode(ModelConfiguration.preset(named: "paper", method: .stt)!), as: UTF8.self)
            .contains(#""sttAttention":"space-time""#))
        XCTAssertNil(ModelConfiguration.preset(named: "large", method: .scn))
    }

    func testValidationNamesTheField() {
        var stt = ModelConfiguration.preset(named: "small", method: .stt)!
        stt.dropPath = 1
        XCTAssertThrowsError(try STTModel(configuration: stt)) { XCTAssertTrue("\($0)".contains("dropPath"), "\($0)") }
        stt.dropPath = 0
        stt.temporalTransformer.depth = 0
        XCTAssertThrowsError(try STTModel(configuration: stt)) { XCTAssertTrue("\($0)".contains("temporalTransformer.depth"), "\($0)") }
        var scn = ModelConfiguration.preset(named: "small", method: .scn)!
        scn.widths = [16, 16, 32]
        XCTAssertThrowsError(try SCNModel(configuration: scn)) { XCTAssertTrue("\($0)".contains("widths"), "\($0)") }
        var ran = ModelConfiguration.preset(named: "small", method: .ran)!
        ran.imageSize = 8
        XCTAssertThrowsError(try RANModel(configuration: ran)) { XCTAssertTrue("\($0)".contains("imageSize"), "\($0)") }
    }

    func testWrongClipShapeIsAnError() throws {
        let model = try ExpressionModels.make(MethodTests.tiny(.formerDFER))
        XCTAssertThrowsError(try model(Tensor(zeros: [1, 3, 3, 32, 32]), training: false)) { error in
            XCTAssertTrue("\(error)".contains("(B, 2, 3, 32, 32)"), "\(error)")
        }
    }
}
