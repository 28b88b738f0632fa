import Foundation

/// The contiguous loops of the data plane: wire encoding and float32 accumulation.
enum Kernels {
    /// Calls `body` with the wire bytes of `count` floats at `values` (float16: encoded into `scratch`).
    static func withWireBytes<R>(_ values: UnsafePointer<Float>, count: Int, precision: GangSpec.Precision,
                                 scratch: inout [UInt16], _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch precision {
        case .float32:
            return try body(UnsafeRawBufferPointer(start: values, count: count * 4))
        case .float16:
            if scratch.count < count { scratch = [UInt16](repeating: 0, count: count) }
            return try scratch.withUnsafeMutableBufferPointer { half in
                HalfPrecision.encode(UnsafeBufferPointer(start: values, count: count), into: half.baseAddress!)
                return try body(UnsafeRawBufferPointer(start: half.baseAddress, count: count * 2))
            }
        }
    }

    /// Writes (or adds, when `adding`) the `count` wire values in `payload` to `destination`.
    static func readWire(_ payload: [UInt8], count: Int, precision: GangSpec.Precision, adding: Bool,
                         into destination: UnsafeMutablePointer<Float>) {
        payload.withUnsafeBytes { raw in
            guard let source = raw.baseAddress, count > 0 else { return }
            switch (precision, adding) {
            case (.float32, false):
                memcpy(destination, source, count * 4)
            case (.float32, true):
                for index in 0..<count {
                    destination[index] += source.loadUnaligned(fromByteOffset: 4 * index, as: Float.self)
                }
            case (.float16, false):
                HalfPrecision.decode(source, count: count, into: destination)
            case (.float16, true):
                HalfPrecision.decodeAdding(source, count: count, into: destination)
            }
        }
    }

    /// Divides `count` values by `divisor` in place.
    static func divide(_ values: UnsafeMutablePointer<Float>, count: Int, by divisor: Float) {
        for index in 0..<count { values[index] /= divisor }
    }
}

/// Float storage shared between a caller and the communication thread, which touch disjoint ranges or
/// hand ranges over under a lock.
final class FloatStorage: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int

    init(capacity: Int = 0) {
        self.capacity = capacity
        pointer = .allocate(capacity: max(capacity, 1))
    }

    /// Grows (contents lost) to hold `count` floats; only while no job uses the storage.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        pointer.deallocate()
        pointer = .allocate(capacity: count)
        capacity = count
    }

    deinit { pointer.deallocate() }
}
