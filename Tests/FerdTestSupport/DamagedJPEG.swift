import Foundation

/// The ways a frame on disk gets damaged, for the tests of everything that reads JPEGs (`ferd prepare`,
/// `ferd train` on JPEG folders, `ferd predict`): each rewrites a good baseline JPEG file in place.
public enum DamagedJPEG: String, CaseIterable, Sendable {
    /// Cut to its first 300 bytes, as an interrupted copy leaves it.
    case truncated
    /// Cut half-way through the entropy-coded scan: the header reads, the pixels run out.
    case truncatedScan
    /// Zero bytes.
    case empty
    /// A PNG file renamed .jpg.
    case png
    /// A restart marker half-way through a scan that has none: libjpeg stops the scan with a warning and
    /// would return the rest of the image grey.
    case badMarker

    /// Damages the JPEG file at `path`.
    public func apply(to path: String) throws {
        let url = URL(fileURLWithPath: path)
        var bytes = [UInt8](try Data(contentsOf: url))
        switch self {
        case .truncated:
            bytes = Array(bytes.prefix(300))
        case .truncatedScan:
            let scan = try Self.scan(bytes, path: path)
            bytes = Array(bytes[..<((scan.lowerBound + scan.upperBound) / 2)])
        case .empty:
            bytes = []
        case .png:
            bytes = Self.pngBytes
        case .badMarker:
            let scan = try Self.scan(bytes, path: path)
            let middle = (scan.lowerBound + scan.upperBound) / 2
            bytes[middle] = 0xFF
            bytes[middle + 1] = 0xD3
        }
        try Data(bytes).write(to: url)
    }

    /// The entropy-coded bytes of the first scan: after the SOS segment, up to the EOI marker.
    private static func scan(_ bytes: [UInt8], path: String) throws -> Range<Int> {
        guard bytes.count >= 4, bytes.suffix(2) == [0xFF, 0xD9],
              let sos = (0..<(bytes.count - 3)).first(where: { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xDA }) else {
            throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: path])
        }
        let start = sos + 2 + (Int(bytes[sos + 2]) << 8 | Int(bytes[sos + 3]))
        return start..<(bytes.count - 2)
    }

    /// A 1×1 PNG.
    private static let pngBytes: [UInt8] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4,
        0x89, 0x00, 0x00, 0x00, 0x0A, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00,
        0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE,
        0x42, 0x60, 0x82,
    ]
}
