import Foundation
import XCTest

@testable import FerdTensor

final class SafetensorsTests: XCTestCase {
    // MARK: - Helpers

    /// A safetensors file built by hand: 8-byte little-endian header length, the header padded with
    /// spaces to a multiple of 8, then the data buffer.
    private func file(header: String, data: [UInt8] = [], pad: Bool = true) -> [UInt8] {
        var headerBytes = Array(header.utf8)
        if pad {
            while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        }
        return lengthPrefix(UInt64(headerBytes.count)) + headerBytes + data
    }

    private func lengthPrefix(_ length: UInt64) -> [UInt8] {
        (0 ..< 8).map { UInt8(truncatingIfNeeded: length >> (8 * UInt64($0))) }
    }

    private func entry(_ name: String, _ dtype: String, _ shape: [Int], _ begin: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }

    private func assertDecodeFails(
        _ bytes: [UInt8], _ kind: SafetensorsError.Kind, mentioning phrases: [String],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let decoded = try SafetensorsFile.decode(bytes, fileName: "bad.safetensors")
            XCTFail("expected \(kind), decoded \(decoded.names)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.kind, kind, error.description, file: file, line: line)
            XCTAssertTrue(error.description.hasPrefix("bad.safetensors: "), error.description, file: file, line: line)
            XCTAssertFalse(error.fix.isEmpty, file: file, line: line)
            for phrase in phrases {
                XCTAssertTrue(error.description.contains(phrase), "'\(phrase)' missing from: \(error.description)",
                              file: file, line: line)
            }
        }
    }

    private func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ferd-safetensors-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    // MARK: - Round trips

    func testRoundTripThroughFilePreservesEverything() throws {
        let original = SafetensorsFile(
            tensors: [
                "conv.weight": StoredTensor(shape: [2, 1, 3], values: [1, -2.5, 3e-8, .infinity, -0.0, .greatestFiniteMagnitude]),
                "conv.bias": StoredTensor(shape: [2], values: [0.25, -.leastNonzeroMagnitude]),
                "scale": StoredTensor(shape: [], values: [42]),
                "empty": StoredTensor(shape: [0, 4], values: []),
                "quote \" back\\slash\ttab \u{1} ünï": StoredTensor(shape: [1], values: [7]),
            ],
            integerTensors: [
                "bn.num_batches_tracked": StoredIntegerTensor(shape: [], values: [12_345_678_901_234]),
                "labels": StoredIntegerTensor(shape: [3], values: [-1, 0, .max]),
            ],
            metadata: ["format": "pt", "note": "line\nbreak \"quoted\""]
        )
        let directory = try temporaryDirectory()
        let url = directory.appendingPathComponent("model.safetensors")
        try original.write(to: url)
        try original.write(to: url)

        let bytes = try [UInt8](Data(contentsOf: url))
        let headerLength = bytes[0 ..< 8].reversed().reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual(headerLength % 8, 0)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["model.safetensors"])

        let decoded = try SafetensorsFile.read(contentsOf: url)
        XCTAssertEqual(decoded, original)
        XCTAssertEqual(decoded.names, ["bn.num_batches_tracked", "labels", "conv.bias", "conv.weight", "empty",
                                       "quote \" back\\slash\ttab \u{1} ünï", "scale"])
        XCTAssertEqual(decoded.dtypes["labels"], .i64)
        XCTAssertEqual(decoded.dtypes["scale"], .f32)
        XCTAssertEqual(decoded.tensors["conv.weight"]?.values[4].sign, .minus)
    }

    func testRoundTripKeepsNaNBitsAndLargeTensors() throws {
        var values = [Float](repeating: 0.5, count: 5_000_000)
        values[0] = Float(bitPattern: 0x7FC0_1234)
        values[4_999_999] = -3
        let original = SafetensorsFile(tensors: ["big": StoredTensor(shape: [1000, 5000], values: values)])
        let decoded = try SafetensorsFile.decode(try original.encoded())
        let big = try XCTUnwrap(decoded.tensors["big"])
        XCTAssertEqual(big.shape, [1000, 5000])
        XCTAssertEqual(big.values.count, values.count)
        XCTAssertEqual(big.values[0].bitPattern, 0x7FC0_1234)
        XCTAssertEqual(big.values[1], 0.5)
        XCTAssertEqual(big.values[4_999_999], -3)
    }

    func testEmptyFileRoundTrips() throws {
        let encoded = try SafetensorsFile().encoded()
        XCTAssertEqual([UInt8](encoded), file(header: "{}"))
        XCTAssertEqual(try SafetensorsFile.decode(encoded), SafetensorsFile())
    }

    // MARK: - Byte layout

    func testEncodingMatchesReferenceLibraryBytes() throws {
        let tensor = SafetensorsFile(tensors: ["attn.0": StoredTensor(shape: [1, 2, 3], values: [0, 1, 2, 3, 4, 5])])
        let floatBytes: [UInt8] = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]
        let header = #"{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}"#
        XCTAssertEqual([UInt8](try tensor.encoded()), lengthPrefix(64) + Array(header.utf8) + floatBytes)

        let onlyMetadata = SafetensorsFile(metadata: ["framework": "pt"])
        XCTAssertEqual([UInt8](try onlyMetadata.encoded()),
                       lengthPrefix(40) + Array(#"{"__metadata__":{"framework":"pt"}}     "#.utf8))
    }

    func testEncodingWritesIntegerTensorsFirstThenFloatsSortedByName() throws {
        let mixed = SafetensorsFile(
            tensors: ["b": StoredTensor(shape: [1], values: [1]), "a": StoredTensor(shape: [1], values: [2])],
            integerTensors: ["z": StoredIntegerTensor(shape: [1], values: [-1])]
        )
        XCTAssertEqual(mixed.names, ["z", "a", "b"])
        let header = "{" + [entry("z", "I64", [1], 0, 8), entry("a", "F32", [1], 8, 12), entry("b", "F32", [1], 12, 16)]
            .joined(separator: ",") + "}"
        let data: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0x40, 0, 0, 0x80, 0x3F]
        XCTAssertEqual([UInt8](try mixed.encoded()), file(header: header, data: data))
    }

    func testDecodesHandBuiltFileOfEveryDType() throws {
        let header = "{" + [
            #""__metadata__":{"format":"pt","epoch":"3"}"#,
            entry("flags", "BOOL", [2], 48, 50),
            entry("half", "F16", [3], 8, 14),
            entry("full", "F32", [2], 0, 8),
            entry("double", "F64", [1, 1], 40, 48),
            entry("count", "I64", [2], 24, 40),
            entry("brain", "BF16", [2], 14, 18),
            entry("bytes", "U8", [2], 22, 24),
            entry("small", "I32", [], 18, 22),
        ].joined(separator: ",") + "}"
        let data: [UInt8] = [
            0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0,  // F32 1.5, -2
            0x00, 0x3C, 0x00, 0xC1, 0xFF, 0x7B,  // F16 1, -2.5, 65504
            0x80, 0x3F, 0x40, 0xC0,  // BF16 1, -3
            0xF9, 0xFF, 0xFF, 0xFF,  // I32 -7
            0x00, 0xFF,  // U8 0, 255
            0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // I64 -2
            0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,  // I64 2^40
            0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F,  // F64 0.1
            0x01, 0x00,  // BOOL true, false
        ]
        let decoded = try SafetensorsFile.decode(Data(file(header: header, data: data, pad: false)))

        XCTAssertEqual(decoded.names, ["full", "half", "brain", "small", "bytes", "count", "double", "flags"])
        XCTAssertEqual(decoded.metadata, ["format": "pt", "epoch": "3"])
        XCTAssertEqual(decoded.tensors["full"], StoredTensor(shape: [2], values: [1.5, -2]))
        XCTAssertEqual(decoded.tensors["half"], StoredTensor(shape: [3], values: [1, -2.5, 65504]))
        XCTAssertEqual(decoded.tensors["brain"], StoredTensor(shape: [2], values: [1, -3]))
        XCTAssertEqual(decoded.tensors["double"], StoredTensor(shape: [1, 1], values: [Float(bitPattern: 0x3DCC_CCCD)]))
        XCTAssertEqual(decoded.integerTensors["small"], StoredIntegerTensor(shape: [], values: [-7]))
        XCTAssertEqual(decoded.integerTensors["bytes"], StoredIntegerTensor(shape: [2], values: [0, 255]))
        XCTAssertEqual(decoded.integerTensors["count"], StoredIntegerTensor(shape: [2], values: [-2, 1 << 40]))
        XCTAssertEqual(decoded.integerTensors["flags"], StoredIntegerTensor(shape: [2], values: [1, 0]))
        XCTAssertEqual(decoded.tensors.count, 4)
        XCTAssertEqual(decoded.integerTensors.count, 4)
        XCTAssertEqual(decoded.dtypes, ["full": .f32, "half": .f16, "brain": .bf16, "double": .f64,
                                        "small": .i32, "bytes": .u8, "count": .i64, "flags": .bool])
    }

    // MARK: - Malformed files

    func testFileShorterThanLengthPrefix() {
        assertDecodeFails([1, 2, 3], .fileTooShort, mentioning: ["3 bytes", "8-byte header length"])
        assertDecodeFails([], .fileTooShort, mentioning: ["0 bytes"])
    }

    func testHeaderLengthLargerThanFile() {
        assertDecodeFails(lengthPrefix(9_999_999) + Array("{}".utf8), .invalidHeaderLength,
                          mentioning: ["header length 9999999 exceeds file size 10", "truncated"])
        assertDecodeFails(lengthPrefix(UInt64.max), .invalidHeaderLength,
                          mentioning: ["\(UInt64.max)", "100000000-byte limit"])
    }

    func testInvalidJSON() {
        assertDecodeFails(file(header: #"{"a": {"dtype": "F32""#), .invalidHeader, mentioning: ["not valid JSON"])
        assertDecodeFails(lengthPrefix(2) + [0xFF, 0xFE], .invalidHeader, mentioning: ["not valid JSON"])
        assertDecodeFails(file(header: "[1, 2]"), .invalidHeader, mentioning: ["not an object"])
    }

    func testMissingFields() {
        assertDecodeFails(file(header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          .missingField, mentioning: ["tensor 'w'", "no \"dtype\""])
        assertDecodeFails(file(header: #"{"w":{"dtype":"F32","data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          .missingField, mentioning: ["tensor 'w'", "no \"shape\""])
        assertDecodeFails(file(header: #"{"w":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]),
                          .missingField, mentioning: ["tensor 'w'", "no \"data_offsets\""])
    }

    func testInvalidFieldValues() {
        for shape in ["[1.5]", "[-1]", "[true]", "\"1\"", "[99999999999999999999999]"] {
            let header = #"{"w":{"dtype":"F32","shape":"# + shape + #","data_offsets":[0,4]}}"#
            assertDecodeFails(file(header: header, data: [0, 0, 0, 0]), .invalidField,
                              mentioning: ["tensor 'w'", "\"shape\" must be an array of non-negative integers"])
        }
        for offsets in ["[4,0]", "[0]", "[0,4,8]", "[-4,0]"] {
            let header = #"{"w":{"dtype":"F32","shape":[1],"data_offsets":"# + offsets + "}}"
            assertDecodeFails(file(header: header, data: [0, 0, 0, 0]), .invalidField,
                              mentioning: ["tensor 'w'", "\"data_offsets\" must be [begin, end]"])
        }
        assertDecodeFails(file(header: #"{"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]),
                          .invalidField, mentioning: ["\"dtype\" is not a string"])
        assertDecodeFails(file(header: #"{"w":[1]}"#), .invalidField, mentioning: ["tensor 'w'", "not a JSON object"])
    }

    func testUnknownDType() {
        assertDecodeFails(file(header: "{" + entry("w", "F8_E4M3", [4], 0, 4) + "}", data: [0, 0, 0, 0]),
                          .unknownDType, mentioning: ["tensor 'w'", "'F8_E4M3' is not supported", "BF16"])
    }

    func testOffsetsOutOfBounds() {
        assertDecodeFails(file(header: "{" + entry("w", "F32", [100], 0, 400) + "}", data: [UInt8](repeating: 0, count: 16)),
                          .offsetsOutOfBounds, mentioning: ["tensor 'w'", "[0, 400]", "16-byte data buffer"])
    }

    func testOffsetsDisagreeWithShape() {
        assertDecodeFails(file(header: "{" + entry("w", "F32", [2, 2], 0, 12) + "}", data: [UInt8](repeating: 0, count: 12)),
                          .sizeMismatch, mentioning: ["tensor 'w'", "span 12 bytes", "needs 16 bytes"])
        let huge = [Int.max / 2, 4]
        assertDecodeFails(file(header: "{" + entry("w", "F32", huge, 0, 4) + "}", data: [0, 0, 0, 0]),
                          .sizeMismatch, mentioning: ["more than Int.max"])
    }

    func testOverlappingOffsets() {
        let header = "{" + entry("a", "F32", [4], 0, 16) + "," + entry("b", "F32", [4], 8, 24) + "}"
        assertDecodeFails(file(header: header, data: [UInt8](repeating: 0, count: 24)),
                          .overlappingData, mentioning: ["tensor 'b'", "overlap tensor 'a'"])
    }

    func testBytesNotCoveredByAnyTensor() {
        let gap = "{" + entry("a", "F32", [2], 0, 8) + "," + entry("b", "F32", [2], 12, 20) + "}"
        assertDecodeFails(file(header: gap, data: [UInt8](repeating: 0, count: 20)),
                          .uncoveredData, mentioning: ["tensor 'b'", "data bytes 8..<12"])
        let trailing = "{" + entry("a", "F32", [2], 0, 8) + "}"
        assertDecodeFails(file(header: trailing, data: [UInt8](repeating: 0, count: 12)),
                          .uncoveredData, mentioning: ["cover 8 of the 12 data bytes"])
    }

    func testDuplicateTensorName() {
        let header = "{" + entry("w", "F32", [1], 0, 4) + "," + entry("w", "F32", [1], 4, 8) + "}"
        assertDecodeFails(file(header: header, data: [UInt8](repeating: 0, count: 8)),
                          .duplicateTensorName, mentioning: ["tensor 'w'", "more than once"])
        let escaped = "{" + entry("w", "F32", [1], 0, 4) + "," + entry("\\u0077", "F32", [1], 0, 4) + "}"
        assertDecodeFails(file(header: escaped, data: [0, 0, 0, 0]), .duplicateTensorName, mentioning: ["tensor 'w'"])
    }

    func testInvalidMetadata() {
        assertDecodeFails(file(header: #"{"__metadata__":{"epoch":3}}"#), .invalidMetadata,
                          mentioning: ["key 'epoch' is not a string"])
        assertDecodeFails(file(header: #"{"__metadata__":"pt"}"#), .invalidMetadata, mentioning: ["not a JSON object"])
    }

    func testUnreadableFileNamesThePath() throws {
        let url = try temporaryDirectory().appendingPathComponent("missing.safetensors")
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            let error = error as? SafetensorsError
            XCTAssertEqual(error?.kind, .unreadableFile)
            XCTAssertEqual(error?.description.hasPrefix("missing.safetensors: cannot read"), true)
        }
    }

    func testReadErrorsNameTheFile() throws {
        let url = try temporaryDirectory().appendingPathComponent("short.safetensors")
        try Data([1, 2]).write(to: url)
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            XCTAssertEqual((error as? SafetensorsError)?.description.hasPrefix("short.safetensors: file is 2 bytes"), true)
        }
        try Data().write(to: url)
        XCTAssertThrowsError(try SafetensorsFile.read(contentsOf: url)) { error in
            XCTAssertEqual((error as? SafetensorsError)?.kind, .fileTooShort)
        }
    }

    // MARK: - Invalid tensors on write

    func testEncodingRejectsInconsistentTensors() {
        let cases: [(SafetensorsFile, SafetensorsError.Kind, String)] = [
            (SafetensorsFile(tensors: ["w": StoredTensor(shape: [2, 3], values: [1, 2])]), .invalidTensor,
             "shape [2, 3] does not hold the 2 values"),
            (SafetensorsFile(tensors: ["w": StoredTensor(shape: [-1], values: [])]), .invalidTensor, "shape [-1]"),
            (SafetensorsFile(tensors: ["w": StoredTensor(shape: [1 << 62, 4], values: [])]), .invalidTensor,
             "does not hold the 0 values"),
            (SafetensorsFile(integerTensors: ["n": StoredIntegerTensor(shape: [], values: [])]), .invalidTensor,
             "shape [] does not hold the 0 values"),
            (SafetensorsFile(tensors: ["__metadata__": StoredTensor(shape: [], values: [1])]), .invalidTensor,
             "reserved"),
            (SafetensorsFile(tensors: ["x": StoredTensor(shape: [], values: [1])],
                             integerTensors: ["x": StoredIntegerTensor(shape: [], values: [1])]),
             .duplicateTensorName, "both a float and an integer tensor"),
        ]
        for (file, kind, phrase) in cases {
            XCTAssertThrowsError(try file.encoded()) { error in
                let error = error as? SafetensorsError
                XCTAssertEqual(error?.kind, kind)
                XCTAssertEqual(error?.description.contains(phrase), true, error?.description ?? "")
            }
        }
    }
}
