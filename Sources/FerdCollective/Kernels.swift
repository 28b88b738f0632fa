import Foundation

/// The contiguous loops of the data plane: wire encoding and float32 accumulation.
enum Kernels {
    /// Elements summed per pass in `reduce`: the partial sums of a block stay in the core's cache.
    static let reduceBlock = 16_384

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
            guard let source = raw.baseAddress else { return }
            readWire(source, count: count, precision: precision, adding: adding, into: destination)
        }
    }

    /// Writes (or adds, when `adding`) the `count` wire values at `source` to `destination`.
    static func readWire(_ source: UnsafeRawPointer, count: Int, precision: GangSpec.Precision, adding: Bool,
                         into destination: UnsafeMutablePointer<Float>) {
        guard count > 0 else { return }
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

    /// Sums the wire values of `inputs` element by element in float32, in the order given, divides each sum by
    /// `divisor` when there is one and writes the wire encoding of the results to `destination` — one pass in
    /// cache-sized blocks, with `scratch` holding a block's partial sums.
    static func reduce(_ inputs: [[UInt8]], count: Int, precision: GangSpec.Precision, divisor: Float?,
                       into destination: UnsafeMutableRawPointer, scratch: inout [Float]) {
        if scratch.count < reduceBlock { scratch = [Float](repeating: 0, count: reduceBlock) }
        let width = precision.bytesPerElement
        scratch.withUnsafeMutableBufferPointer { buffer in
            let sum = buffer.baseAddress!
            for start in stride(from: 0, to: count, by: reduceBlock) {
                let length = min(reduceBlock, count - start)
                for (position, input) in inputs.enumerated() {
                    input.withUnsafeBytes { raw in
                        readWire(raw.baseAddress! + start * width, count: length, precision: precision,
                                 adding: position > 0, into: sum)
                    }
                }
                if let divisor { divide(sum, count: length, by: divisor) }
                switch precision {
                case .float32: memcpy(destination + start * width, sum, length * 4)
                case .float16: HalfPrecision.encode(sum, count: length, into: destination + start * width)
                }
            }
        }
    }

    /// `destination[i] = (destination[i] + source[i]) / divisor` for `count` float32 wire values at `source`.
    static func addDividing(_ source: UnsafeRawPointer, count: Int, into destination: UnsafeMutablePointer<Float>,
                            by divisor: Float) {
        for index in 0..<count {
            destination[index] = (destination[index] + source.loadUnaligned(fromByteOffset: 4 * index, as: Float.self))
                / divisor
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
