import Foundation

#if _endian(big)
#error("Safetensors.swift copies little-endian tensor bytes directly and needs a little-endian host")
#endif

/// One floating-point tensor read from or written to a safetensors file: its shape and its values as Float32.
public struct StoredTensor: Sendable, Equatable {
    /// Dimensions in row-major order; `[]` is a scalar holding one value.
    public var shape: [Int]
    /// Row-major values; `values.count` must equal the product of `shape`.
    public var values: [Float]

    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }
}

/// One integer tensor (e.g. I64 labels, BatchNorm `num_batches_tracked`) with its values kept exact.
public struct StoredIntegerTensor: Sendable, Equatable {
    /// Dimensions in row-major order; `[]` is a scalar holding one value.
    public var shape: [Int]
    /// Row-major values; `values.count` must equal the product of `shape`.
    public var values: [Int64]

    public init(shape: [Int], values: [Int64]) {
        self.shape = shape
        self.values = values
    }
}

/// The element types this reader understands, spelled as in the safetensors header.
public enum StoredDType: String, Sendable, CaseIterable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
    case i64 = "I64", i32 = "I32", u8 = "U8", bool = "BOOL"

    /// Bytes per element in the data buffer.
    public var byteSize: Int {
        switch self {
        case .u8, .bool: 1
        case .f16, .bf16: 2
        case .f32, .i32: 4
        case .f64, .i64: 8
        }
    }

    /// Whether entries of this type are read into `SafetensorsFile.integerTensors` rather than `tensors`.
    public var isInteger: Bool {
        switch self {
        case .i64, .i32, .u8, .bool: true
        case .f32, .f16, .bf16, .f64: false
        }
    }
}

/// What went wrong reading or writing a safetensors file: the problem, where, and how to fix it.
public struct SafetensorsError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The category of a failure, for callers that react to specific problems.
    public enum Kind: Sendable, Equatable {
        case unreadableFile, unwritableFile, fileTooShort, invalidHeaderLength, invalidHeader
        case invalidMetadata, duplicateTensorName, missingField, invalidField, unknownDType
        case offsetsOutOfBounds, sizeMismatch, overlappingData, uncoveredData, invalidTensor
    }

    public var kind: Kind
    /// The file the problem was found in, when known.
    public var fileName: String?
    /// The tensor entry the problem concerns, if any.
    public var tensorName: String?
    /// The absolute byte offset in the file where the problem lies, if meaningful.
    public var byteOffset: Int?
    /// What is wrong.
    public var problem: String
    /// What the user can do about it.
    public var fix: String

    public init(kind: Kind, fileName: String? = nil, tensorName: String? = nil, byteOffset: Int? = nil,
                problem: String, fix: String) {
        self.kind = kind
        self.fileName = fileName
        self.tensorName = tensorName
        self.byteOffset = byteOffset
        self.problem = problem
        self.fix = fix
    }

    public var description: String {
        var text = "\(fileName ?? "safetensors"): "
        if let tensorName { text += "tensor '\(tensorName)': " }
        text += problem
        if let byteOffset { text += " (at byte \(byteOffset))" }
        return text + " — " + fix
    }
}

/// The contents of a safetensors file: float tensors as Float32, integer tensors exact, and string metadata.
public struct SafetensorsFile: Sendable, Equatable {
    /// Floating-point entries (F32, F16, BF16, F64), converted to Float32.
    public var tensors: [String: StoredTensor]
    /// Integer entries (I64, I32, U8, BOOL), widened to Int64.
    public var integerTensors: [String: StoredIntegerTensor]
    /// The dtype each entry had in the file it was read from.
    public var dtypes: [String: StoredDType]
    /// The free-form `__metadata__` map.
    public var metadata: [String: String]
    /// Entry names in the order of their data in the file.
    public var names: [String]

    /// Creates a file whose `dtypes` and `names` describe what `encoded()` writes: I64 entries first, then F32,
    /// each sorted by name.
    public init(tensors: [String: StoredTensor] = [:], integerTensors: [String: StoredIntegerTensor] = [:],
                metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.integerTensors = integerTensors
        self.metadata = metadata
        let integerNames = integerTensors.keys.sorted()
        let floatNames = tensors.keys.sorted()
        names = integerNames + floatNames
        dtypes = Dictionary(integerNames.map { ($0, .i64) } + floatNames.map { ($0, .f32) }) { _, float in float }
    }

    /// Reads and validates the file at `url`; error messages name the file. The file is memory-mapped, so
    /// each tensor's bytes are read from disk once, straight into its array.
    public static func read(contentsOf url: URL) throws(SafetensorsError) -> SafetensorsFile {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw SafetensorsError(kind: .unreadableFile, fileName: url.lastPathComponent,
                                   problem: "cannot read \(url.path): \(error.localizedDescription)",
                                   fix: "check that the path exists and is readable")
        }
        return try decode(data, fileName: url.lastPathComponent)
    }

    /// Parses and validates the bytes of a whole safetensors file; `fileName` is used in error messages.
    public static func decode(_ bytes: some ContiguousBytes,
                              fileName: String? = nil) throws(SafetensorsError) -> SafetensorsFile {
        try bytes.withUnsafeBytes { raw in
            Result { () throws(SafetensorsError) in try SafetensorsDecoder(fileName: fileName).decode(raw) }
        }.get()
    }

    /// The file's bytes as the reference library writes them: `__metadata__` first, I64 entries then F32
    /// entries each sorted by name, the header padded with spaces to a multiple of 8 bytes.
    public func encoded() throws(SafetensorsError) -> Data {
        let entries = try plannedEntries()
        var header = "{"
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)):\(jsonString($0.value))" }
            header += "\"__metadata__\":{\(pairs.joined(separator: ","))}"
            if !entries.isEmpty { header += "," }
        }
        header += entries.map { entry in
            let shape = entry.shape.map(String.init).joined(separator: ",")
            return "\(jsonString(entry.name)):{\"dtype\":\"\(entry.dtype.rawValue)\",\"shape\":[\(shape)],"
                + "\"data_offsets\":[\(entry.begin),\(entry.end)]}"
        }.joined(separator: ",")
        header += "}"
        var headerBytes = Array(header.utf8)
        headerBytes += repeatElement(UInt8(ascii: " "), count: (8 - headerBytes.count % 8) % 8)

        var data = Data(capacity: 8 + headerBytes.count + (entries.last?.end ?? 0))
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: headerBytes)
        for entry in entries {
            switch entry.payload {
            case .integer(let values): values.withUnsafeBufferPointer { data.append($0) }
            case .float(let values): values.withUnsafeBufferPointer { data.append($0) }
            }
        }
        return data
    }

    /// Encodes the file and writes it atomically: to a temporary file first, then renamed over `url`.
    public func write(to url: URL) throws(SafetensorsError) {
        let data = try encoded()
        do {
            try data.write(to: url, options: .atomic)
        } catch {
            throw SafetensorsError(kind: .unwritableFile, fileName: url.lastPathComponent,
                                   problem: "cannot write \(url.path): \(error.localizedDescription)",
                                   fix: "check that the directory exists, is writable and has free space")
        }
    }

    private enum Payload {
        case integer([Int64])
        case float([Float])

        var count: Int {
            switch self {
            case .integer(let values): values.count
            case .float(let values): values.count
            }
        }
    }

    private struct PlannedEntry {
        var name: String
        var dtype: StoredDType
        var shape: [Int]
        var payload: Payload
        var begin: Int
        var end: Int
    }

    private func plannedEntries() throws(SafetensorsError) -> [PlannedEntry] {
        let integers = integerTensors.sorted { $0.key < $1.key }.map { ($0.key, StoredDType.i64, $0.value.shape,
                                                                       Payload.integer($0.value.values)) }
        let floats = tensors.sorted { $0.key < $1.key }.map { ($0.key, StoredDType.f32, $0.value.shape,
                                                              Payload.float($0.value.values)) }
        var entries: [PlannedEntry] = []
        var offset = 0
        for (name, dtype, shape, payload) in integers + floats {
            if name == "__metadata__" {
                throw SafetensorsError(kind: .invalidTensor, tensorName: name,
                                       problem: "'__metadata__' is reserved for the metadata map",
                                       fix: "rename the tensor")
            }
            if dtype == .f32, integerTensors[name] != nil {
                throw SafetensorsError(kind: .duplicateTensorName, tensorName: name,
                                       problem: "the name is used by both a float and an integer tensor",
                                       fix: "remove it from `tensors` or from `integerTensors`")
            }
            let count = payload.count
            guard elementCount(shape) == count else {
                throw SafetensorsError(kind: .invalidTensor, tensorName: name,
                                       problem: "shape \(shape) does not hold the \(count) values given",
                                       fix: "make the product of the shape equal the number of values")
            }
            let end = offset + count * dtype.byteSize
            entries.append(PlannedEntry(name: name, dtype: dtype, shape: shape, payload: payload,
                                        begin: offset, end: end))
            offset = end
        }
        return entries
    }
}

/// `text` as a JSON string literal, escaped the way serde_json does.
private func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}

/// One validated tensor entry of a header.
private struct HeaderEntry {
    var name: String
    var dtype: StoredDType
    var shape: [Int]
    var begin: Int
    var end: Int
}

/// Validates a whole file image the way the reference implementation does, then converts its tensors.
private struct SafetensorsDecoder {
    /// The reference implementation's limit on the JSON header size.
    static let maxHeaderLength = 100_000_000

    let fileName: String?

    func failure(_ kind: SafetensorsError.Kind, tensor: String? = nil, at offset: Int? = nil,
                 _ problem: String, fix: String) -> SafetensorsError {
        SafetensorsError(kind: kind, fileName: fileName, tensorName: tensor, byteOffset: offset,
                         problem: problem, fix: fix)
    }

    func decode(_ raw: UnsafeRawBufferPointer) throws(SafetensorsError) -> SafetensorsFile {
        guard raw.count >= 8 else {
            throw failure(.fileTooShort, "file is \(raw.count) bytes, shorter than the 8-byte header length",
                          fix: "the file is empty or truncated; re-download or re-export it")
        }
        let declared = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(Self.maxHeaderLength) else {
            throw failure(.invalidHeaderLength,
                          "header length \(declared) exceeds the \(Self.maxHeaderLength)-byte limit",
                          fix: "the file is corrupt or not a safetensors file")
        }
        let headerLength = Int(declared)
        guard headerLength <= raw.count - 8 else {
            throw failure(.invalidHeaderLength,
                          "header length \(headerLength) exceeds file size \(raw.count)",
                          fix: "the file is truncated or not a safetensors file")
        }
        let header = UnsafeRawBufferPointer(rebasing: raw[8 ..< 8 + headerLength])
        let buffer = UnsafeRawBufferPointer(rebasing: raw[(8 + headerLength)...])
        let (entries, metadata) = try parseHeader(header)
        try validateLayout(entries, bufferStart: 8 + headerLength, bufferSize: buffer.count)

        var file = SafetensorsFile(metadata: metadata)
        file.names = entries.map(\.name)
        for entry in entries {
            let bytes = UnsafeRawBufferPointer(rebasing: buffer[entry.begin ..< entry.end])
            let count = bytes.count / entry.dtype.byteSize
            file.dtypes[entry.name] = entry.dtype
            switch entry.dtype {
            case .f32: file.tensors[entry.name] = StoredTensor(shape: entry.shape, values: copied(bytes, count))
            case .f16:
                file.tensors[entry.name] = StoredTensor(shape: entry.shape, values: converted(bytes, count) {
                    (bits: UInt16) in Float(Float16(bitPattern: bits))
                })
            case .bf16:
                file.tensors[entry.name] = StoredTensor(shape: entry.shape, values: converted(bytes, count) {
                    (bits: UInt16) in Float(bitPattern: UInt32(bits) << 16)
                })
            case .f64:
                file.tensors[entry.name] = StoredTensor(shape: entry.shape, values: converted(bytes, count) {
                    (value: Double) in Float(value)
                })
            case .i64:
                file.integerTensors[entry.name] = StoredIntegerTensor(shape: entry.shape, values: copied(bytes, count))
            case .i32:
                file.integerTensors[entry.name] = StoredIntegerTensor(shape: entry.shape, values: converted(bytes, count) {
                    (value: Int32) in Int64(value)
                })
            case .u8, .bool:
                file.integerTensors[entry.name] = StoredIntegerTensor(shape: entry.shape, values: converted(bytes, count) {
                    (value: UInt8) in Int64(value)
                })
            }
        }
        return file
    }

    /// Parses the JSON header into entries sorted by data offset, and the metadata map.
    func parseHeader(_ header: UnsafeRawBufferPointer) throws(SafetensorsError) -> ([HeaderEntry], [String: String]) {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header))
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            throw failure(.invalidHeader,
                          "header (bytes 8..<\(8 + header.count)) is not valid JSON: \(reason ?? "\(error)")",
                          fix: "the file is corrupt or not a safetensors file")
        }
        guard let object = json as? [String: Any] else {
            throw failure(.invalidHeader, "header is JSON but not an object of tensor entries",
                          fix: "the file is corrupt or not a safetensors file")
        }
        let keys = topLevelKeys(header)
        if keys.count != object.count, let duplicate = firstDuplicate(keys) {
            throw failure(.duplicateTensorName, tensor: duplicate, "the header lists this name more than once",
                          fix: "remove the duplicate entry and re-export the file")
        }

        var metadata: [String: String] = [:]
        var entries: [HeaderEntry] = []
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = try parseMetadata(value)
            } else {
                entries.append(try parseEntry(name, value))
            }
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        return (entries, metadata)
    }

    func parseMetadata(_ value: Any) throws(SafetensorsError) -> [String: String] {
        if value is NSNull { return [:] }
        guard let map = value as? [String: Any] else {
            throw failure(.invalidMetadata, "__metadata__ is not a JSON object",
                          fix: "store metadata as an object of string keys and string values")
        }
        var metadata: [String: String] = [:]
        for (key, entry) in map {
            guard let text = entry as? String else {
                throw failure(.invalidMetadata, "__metadata__ value for key '\(key)' is not a string",
                              fix: "store every metadata value as a string")
            }
            metadata[key] = text
        }
        return metadata
    }

    func parseEntry(_ name: String, _ value: Any) throws(SafetensorsError) -> HeaderEntry {
        let entryFix = "every tensor entry needs \"dtype\", \"shape\" and \"data_offsets\"; re-export the file"
        let malformedFix = "the header is malformed; re-export the file with a safetensors writer"
        guard let fields = value as? [String: Any] else {
            throw failure(.invalidField, tensor: name, "header entry is not a JSON object", fix: malformedFix)
        }
        for field in ["dtype", "shape", "data_offsets"] where fields[field] == nil {
            throw failure(.missingField, tensor: name, "header entry has no \"\(field)\"", fix: entryFix)
        }
        guard let dtypeName = fields["dtype"] as? String else {
            throw failure(.invalidField, tensor: name, "\"dtype\" is not a string", fix: malformedFix)
        }
        guard let dtype = StoredDType(rawValue: dtypeName) else {
            let supported = StoredDType.allCases.map(\.rawValue).joined(separator: ", ")
            throw failure(.unknownDType, tensor: name, "dtype '\(dtypeName)' is not supported (supported: \(supported))",
                          fix: "convert the tensor to a supported dtype before saving, e.g. with tensor.float()")
        }
        guard let shape = nonNegativeIntegers(fields["shape"]) else {
            throw failure(.invalidField, tensor: name,
                          "\"shape\" must be an array of non-negative integers, got \(describe(fields["shape"]))",
                          fix: malformedFix)
        }
        guard let offsets = nonNegativeIntegers(fields["data_offsets"]), offsets.count == 2, offsets[0] <= offsets[1]
        else {
            throw failure(.invalidField, tensor: name,
                          "\"data_offsets\" must be [begin, end] with 0 <= begin <= end, got "
                              + describe(fields["data_offsets"]),
                          fix: malformedFix)
        }
        return HeaderEntry(name: name, dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
    }

    /// Checks that the entries, sorted by offset, tile the data buffer exactly and match their shapes.
    func validateLayout(_ entries: [HeaderEntry], bufferStart: Int, bufferSize: Int) throws(SafetensorsError) {
        let inconsistentFix = "the header does not match the data; re-export the file"
        var covered = 0
        var previous: String?
        for entry in entries {
            let offsets = "data_offsets [\(entry.begin), \(entry.end)]"
            guard entry.end <= bufferSize else {
                throw failure(.offsetsOutOfBounds, tensor: entry.name, at: bufferStart + entry.begin,
                              "\(offsets) end beyond the \(bufferSize)-byte data buffer",
                              fix: "the file is truncated; re-download or re-export it")
            }
            let byteCount = elementCount(entry.shape + [entry.dtype.byteSize])
            guard byteCount == entry.end - entry.begin else {
                throw failure(.sizeMismatch, tensor: entry.name, at: bufferStart + entry.begin,
                              "\(offsets) span \(entry.end - entry.begin) bytes but shape \(entry.shape) of "
                                  + "\(entry.dtype.rawValue) needs \(byteCount.map(String.init) ?? "more than Int.max") bytes",
                              fix: inconsistentFix)
            }
            if entry.begin < covered, let previous {
                throw failure(.overlappingData, tensor: entry.name, at: bufferStart + entry.begin,
                              "\(offsets) overlap tensor '\(previous)', which ends at data byte \(covered)",
                              fix: inconsistentFix)
            }
            if entry.begin > covered {
                throw failure(.uncoveredData, tensor: entry.name, at: bufferStart + covered,
                              "data bytes \(covered)..<\(entry.begin) before this tensor belong to no tensor",
                              fix: inconsistentFix)
            }
            covered = entry.end
            previous = entry.name
        }
        guard covered == bufferSize else {
            throw failure(.uncoveredData, at: bufferStart + covered,
                          "tensors cover \(covered) of the \(bufferSize) data bytes; the rest belong to no tensor",
                          fix: "the file has trailing bytes or its header misses a tensor; re-export it")
        }
    }

    /// The raw (still escaped) top-level keys of a JSON object, in file order.
    func topLevelKeys(_ header: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer.SubSequence] {
        var keys: [UnsafeRawBufferPointer.SubSequence] = []
        var depth = 0
        var inString = false
        var escaped = false
        var expectingKey = false
        var keyStart: Int?
        for index in header.indices {
            let byte = header[index]
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if let start = keyStart { keys.append(header[start ... index]) }
                    keyStart = nil
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
                if depth == 1, expectingKey {
                    keyStart = index
                    expectingKey = false
                }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            default:
                break
            }
        }
        return keys
    }

    /// The first key, unescaped, that occurs twice.
    func firstDuplicate(_ rawKeys: [UnsafeRawBufferPointer.SubSequence]) -> String? {
        var seen: Set<String> = []
        for raw in rawKeys {
            guard let key = try? JSONSerialization.jsonObject(with: Data(raw), options: .fragmentsAllowed) as? String
            else { continue }
            if !seen.insert(key).inserted { return key }
        }
        return nil
    }
}

/// The product of `dimensions`, or nil if one is negative or the product overflows.
private func elementCount(_ dimensions: [Int]) -> Int? {
    var product = 1
    for dimension in dimensions {
        let (next, overflow) = product.multipliedReportingOverflow(by: dimension)
        guard dimension >= 0, !overflow else { return nil }
        product = next
    }
    return product
}

/// JSON numbers that are non-negative integers (not booleans), or nil if any element is not.
private func nonNegativeIntegers(_ value: Any?) -> [Int]? {
    guard let array = value as? [Any] else { return nil }
    var result: [Int] = []
    for element in array {
        guard let number = element as? NSNumber, type(of: number) != type(of: NSNumber(value: true)),
              let integer = number as? Int, integer >= 0
        else { return nil }
        result.append(integer)
    }
    return result
}

/// A short rendering of a header value for error messages.
private func describe(_ value: Any?) -> String {
    guard let value, JSONSerialization.isValidJSONObject([value]),
          let data = try? JSONSerialization.data(withJSONObject: [value]),
          let text = String(data: data, encoding: .utf8)
    else { return "\(value ?? "nothing")" }
    return String(text.dropFirst().dropLast())
}

/// The first `count` elements of `bytes`, copied with a single memcpy.
private func copied<Element: BitwiseCopyable>(_ bytes: UnsafeRawBufferPointer, _ count: Int) -> [Element] {
    [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
        UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
        initialized = count
    }
}

/// `count` elements of type `Source` loaded from `bytes` and converted with `transform`.
private func converted<Source: BitwiseCopyable, Element>(
    _ bytes: UnsafeRawBufferPointer, _ count: Int, _ transform: (Source) -> Element
) -> [Element] {
    [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
        for index in 0 ..< count {
            (buffer.baseAddress! + index).initialize(
                to: transform(bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<Source>.stride, as: Source.self)))
        }
        initialized = count
    }
}
