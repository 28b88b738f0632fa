import FerdSystem
import Foundation
import FerdTraining
import FerdZeroMQ
import Logging

/// One member of a data-parallel gang: averages gradients with the other members over ZeroMQ, bit-identically
/// on every member (docs/DATA-PARALLEL.md). A communication thread owns the sockets; `offer` copies a gradient
/// into the current bucket and hands full buckets to that thread, which exchanges them while the backward
/// pass goes on. Use one member from one thread at a time.
public final class GangMember: GangCommunicator, @unchecked Sendable {
    public let spec: GangSpec
    public var rank: Int { spec.rank }
    public var size: Int { spec.size }

    private let shared = GangShared()
    private let cancelled: @Sendable () -> Bool
    private let finished = DispatchSemaphore(value: 0)
    private var closed = false

    private var exchange: UInt64 = 0
    private var submitted = 0
    private var stepOpen = false
    private var stepStart = 0.0
    private var sizes: [Int] = []
    private var offsets: [Int] = []
    private var offered: [Bool] = []
    private var buckets: [Range<Int>] = []
    private var bucketRemaining: [Int] = []
    private var nextBucket = 0
    private let stepStorage = FloatStorage()
    private let scratchStorage = FloatStorage()

    /// Connects to the hub, joins the gang and waits until every member has joined (at most `spec.timeout`).
    public init(spec: GangSpec, context: ZMQContext, logger: Logger,
                cancelled: @escaping @Sendable () -> Bool) throws {
        guard spec.size >= 1, spec.size <= Int(UInt16.max), (0..<spec.size).contains(spec.rank) else {
            throw GangError.invalidSpec("rank \(spec.rank) of a gang of \(spec.size)")
        }
        guard spec.timeout > 0, spec.bucketBytes >= 4, spec.chunkBytes >= 4 else {
            throw GangError.invalidSpec("timeout \(spec.timeout) s, bucket \(spec.bucketBytes) and chunk "
                                        + "\(spec.chunkBytes) bytes must be positive")
        }
        self.spec = spec
        self.cancelled = cancelled
        let shared = shared
        let finished = finished
        let started = StartResult()
        let thread = Thread {
            let engine: CommunicationEngine
            do {
                engine = try CommunicationEngine(spec: spec, context: context, shared: shared, logger: logger,
                                                 cancelled: cancelled)
                started.finish(.success(""))
            } catch {
                started.finish(.failure(GangError.transport(gangID: spec.gangID, rank: spec.rank, detail: "\(error)")))
                finished.signal()
                return
            }
            engine.run()
            finished.signal()
        }
        thread.name = "ferd-gang-\(spec.gangID)-\(spec.rank)"
        thread.start()
        _ = try started.wait().get()
        do {
            try shared.wait(gangID: spec.gangID, rank: spec.rank, cancelled: cancelled) { shared.ready }
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    /// Traffic and timings of the last step and in total.
    public var statistics: GangStatistics {
        shared.condition.withLock { shared.statistics }
    }

    public func beginStep(sizes: [Int]) throws {
        try checkOpen()
        guard !stepOpen else { throw GangError.misuse("beginStep before the previous step's finishStep") }
        guard sizes.allSatisfy({ $0 >= 0 }) else { throw GangError.misuse("negative gradient size in \(sizes)") }
        exchange += 1
        self.sizes = sizes
        offsets = []
        var total = 0
        for size in sizes {
            offsets.append(total)
            total += size
        }
        offered = [Bool](repeating: false, count: sizes.count)
        let bucketElements = max(1, spec.bucketBytes / 4)
        buckets = stride(from: 0, to: total, by: bucketElements).map { $0..<min(total, $0 + bucketElements) }
        bucketRemaining = buckets.map(\.count)
        nextBucket = 0
        stepStorage.reserve(total)
        stepOpen = true
        stepStart = MonotonicClock.seconds()
        shared.condition.withLock { shared.step = GangStatistics.Counters() }
    }

    public func offer(_ index: Int, _ gradient: UnsafeBufferPointer<Float>) throws {
        try checkOpen()
        guard stepOpen else { throw GangError.misuse("offer(\(index)) outside a step") }
        guard sizes.indices.contains(index), !offered[index] else {
            throw GangError.misuse("offer(\(index)): no such gradient in this step, or offered twice")
        }
        guard gradient.count == sizes[index] else {
            throw GangError.misuse("offer(\(index)) of \(gradient.count) values; beginStep said \(sizes[index])")
        }
        offered[index] = true
        let range = offsets[index]..<(offsets[index] + gradient.count)
        guard !range.isEmpty else { return }
        (stepStorage.pointer + range.lowerBound).update(from: gradient.baseAddress!, count: range.count)
        let bucketElements = max(1, spec.bucketBytes / 4)
        for bucket in (range.lowerBound / bucketElements)...((range.upperBound - 1) / bucketElements) {
            bucketRemaining[bucket] -= buckets[bucket].clamped(to: range).count
        }
        while nextBucket < buckets.count, bucketRemaining[nextBucket] == 0 {
            let bucket = buckets[nextBucket]
            submit(.reduce(storage: stepStorage, offset: bucket.lowerBound, count: bucket.count, average: true,
                           step: exchange, bucket: UInt32(nextBucket), inStep: true))
            nextBucket += 1
        }
    }

    public func finishStep(_ write: (Int, UnsafeBufferPointer<Float>) -> Void) throws {
        try checkOpen()
        guard stepOpen else { throw GangError.misuse("finishStep without beginStep") }
        if let missing = offered.firstIndex(of: false) {
            throw GangError.misuse("finishStep before gradient \(missing) of \(sizes.count) was offered")
        }
        stepOpen = false
        let waitStart = MonotonicClock.seconds()
        try waitForSubmitted()
        let exposed = MonotonicClock.seconds() - waitStart
        shared.condition.withLock {
            shared.step.exposedWaitSeconds = exposed
            shared.statistics.total.exposedWaitSeconds += exposed
            shared.statistics.lastStep = shared.step
            shared.statistics.steps += 1
        }
        for (index, size) in sizes.enumerated() {
            write(index, UnsafeBufferPointer(start: stepStorage.pointer + offsets[index], count: size))
        }
    }

    public func allReduce(_ values: inout [Float], average: Bool) throws {
        try checkOpen()
        guard !stepOpen else { throw GangError.misuse("allReduce inside a step") }
        exchange += 1
        guard !values.isEmpty else { return }
        scratchStorage.reserve(values.count)
        values.withUnsafeBufferPointer { scratchStorage.pointer.update(from: $0.baseAddress!, count: $0.count) }
        submit(.reduce(storage: scratchStorage, offset: 0, count: values.count, average: average, step: exchange,
                       bucket: 0, inStep: false))
        try waitForSubmitted()
        values.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: scratchStorage.pointer, count: $0.count) }
    }

    public func allGather(_ bytes: [UInt8]) throws -> [[UInt8]] {
        try checkOpen()
        guard !stepOpen else { throw GangError.misuse("allGather inside a step") }
        exchange += 1
        submit(.gather(bytes: bytes, step: exchange))
        try waitForSubmitted()
        return shared.condition.withLock { shared.gathered }
    }

    /// Tells the hub this member leaves and stops the communication thread; later calls throw.
    public func close() {
        guard !closed else { return }
        closed = true
        shared.requestClose()
        finished.wait()
    }

    private func submit(_ job: GangJob) {
        submitted += 1
        shared.submit(job)
    }

    private func waitForSubmitted() throws {
        let target = submitted
        try shared.wait(gangID: spec.gangID, rank: spec.rank, cancelled: cancelled) { shared.completed >= target }
    }

    private func checkOpen() throws {
        if closed { throw GangError.closed(gangID: spec.gangID, rank: spec.rank) }
        if let failure = shared.condition.withLock({ shared.failure }) { throw failure }
    }
}
