import FerdZeroMQ
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

    /// Writes (or adds) the `count` wire values of a received message, read in place.
    static func readWire(_ payload: ZMQMessage, count: Int, precision: GangSpec.Precision, adding: Bool,
                         into destination: UnsafeMutablePointer<Float>) {
        payload.withUnsafeBytes { raw in
            guard let source = raw.baseAddress else { return }
            readWire(source, count: count, precision: precision, adding: adding, into: destination)
        }
    }

    /// `reduce` over arrays of wire bytes.
    static func reduce(_ inputs: [[UInt8]], count: Int, precision: GangSpec.Precision, divisor: Float?,
                       into destination: UnsafeMutableRawPointer, scratch: inout [Float]) {
        withBaseAddresses(inputs.count, { index, body in inputs[index].withUnsafeBytes(body) }) { sources in
            reduce(sources, count: count, precision: precision, divisor: divisor, into: destination, scratch: &scratch)
        }
    }

    /// `reduce` over received messages, read in place.
    static func reduce(_ inputs: [ZMQMessage], count: Int, precision: GangSpec.Precision, divisor: Float?,
                       into destination: UnsafeMutableRawPointer, scratch: inout [Float]) {
        withBaseAddresses(inputs.count, { index, body in inputs[index].withUnsafeBytes(body) }) { sources in
            reduce(sources, count: count, precision: precision, divisor: divisor, into: destination, scratch: &scratch)
        }
    }

    /// Calls `body` with the base addresses of `count` byte buffers, each valid during the call.
    private static func withBaseAddresses(
        _ count: Int, _ access: (Int, (UnsafeRawBufferPointer) -> Void) -> Void,
        _ body: ([UnsafeRawPointer]) -> Void
    ) {
        withoutActuallyEscaping(access) { access in
            var sources: [UnsafeRawPointer] = []
            func nest(_ index: Int) {
                guard index < count else { return body(sources) }
                access(index) { raw in
                    sources.append(raw.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!)
                    nest(index + 1)
                }
            }
            nest(0)
        }
    }

    /// Sums the wire values at `inputs` element by element in float32, in the order given, divides each sum by
    /// `divisor` when there is one and writes the wire encoding of the results to `destination` — one pass in
    /// cache-sized blocks, with `scratch` holding a block's partial sums.
    static func reduce(_ inputs: [UnsafeRawPointer], count: Int, precision: GangSpec.Precision, divisor: Float?,
                       into destination: UnsafeMutableRawPointer, scratch: inout [Float]) {
        if scratch.count < reduceBlock { scratch = [Float](repeating: 0, count: reduceBlock) }
        let width = precision.bytesPerElement
        scratch.withUnsafeMutableBufferPointer { buffer in
            let sum = buffer.baseAddress!
            for start in stride(from: 0, to: count, by: reduceBlock) {
                let length = min(reduceBlock, count - start)
                for (position, input) in inputs.enumerated() {
                    readWire(input + start * width, count: length, precision: precision, adding: position > 0,
                             into: sum)
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
/// hand ranges over under a lock. Ranges lent to libzmq (sent without copying) keep their memory allocated
/// until libzmq gives them back, even when the storage grows meanwhile.
final class FloatStorage: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<Float>
    private(set) var capacity: Int
    private let lock = NSLock()
    private var lent = 0
    /// Memory replaced by `reserve` while lent, freed once everything lent is back.
    private var retired: [UnsafeMutablePointer<Float>] = []

    init(capacity: Int = 0) {
        self.capacity = capacity
        pointer = .allocate(capacity: max(capacity, 1))
    }

    /// Grows (contents lost) to hold `count` floats; only while no job uses the storage.
    func reserve(_ count: Int) {
        guard count > capacity else { return }
        lock.withLock {
            if lent > 0 { retired.append(pointer) } else { pointer.deallocate() }
        }
        pointer = .allocate(capacity: count)
        capacity = count
    }

    /// A message of `count` floats at `values` (inside this storage), sent without copying: the storage stays
    /// alive until libzmq is done with it, then `released` is called (on a libzmq thread).
    func message(_ values: UnsafePointer<Float>, count: Int, released: @escaping @Sendable () -> Void) -> ZMQMessage {
        lock.withLock { lent += 1 }
        return ZMQMessage(borrowing: UnsafeRawBufferPointer(start: values, count: count * 4)) { [self] in
            lock.withLock {
                lent -= 1
                if lent == 0 {
                    retired.forEach { $0.deallocate() }
                    retired = []
                }
            }
            released()
        }
    }

    deinit {
        pointer.deallocate()
        retired.forEach { $0.deallocate() }
    }
}

/// Reusable memory for outgoing payloads that libzmq sends without copying; a buffer returns to its pool once
/// libzmq is done with it, so 4 MiB messages do not cost a fresh allocation (and its page faults) each.
final class WireBuffer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        pointer = .allocate(byteCount: max(capacity, 1), alignment: 64)
    }

    deinit { pointer.deallocate() }
}

final class WireBufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [WireBuffer] = []
    /// Buffers are at least this large, so that every chunk fits any buffer.
    private let minimumCapacity: Int
    private let kept: Int

    init(minimumCapacity: Int, kept: Int = 16) {
        self.minimumCapacity = minimumCapacity
        self.kept = kept
    }

    /// A buffer of at least `bytes` bytes, to be filled and sent with `message(_:bytes:)`.
    func take(_ bytes: Int) -> WireBuffer {
        let reused: WireBuffer? = lock.withLock {
            guard let index = free.lastIndex(where: { $0.capacity >= bytes }) else { return nil }
            return free.remove(at: index)
        }
        return reused ?? WireBuffer(capacity: max(bytes, minimumCapacity))
    }

    /// Puts a buffer back (one taken and not sent).
    func recycle(_ buffer: WireBuffer) {
        lock.withLock { if free.count < kept { free.append(buffer) } }
    }

    /// A message of the first `bytes` bytes of `buffer`, sent without copying; the buffer returns to the pool
    /// once libzmq is done with every copy of the message.
    func message(_ buffer: WireBuffer, bytes: Int) -> ZMQMessage {
        ZMQMessage(borrowing: UnsafeRawBufferPointer(start: buffer.pointer, count: bytes)) { [self] in recycle(buffer) }
    }
}
