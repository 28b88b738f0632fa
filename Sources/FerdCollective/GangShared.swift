import Foundation

/// One unit of work for the communication thread, done in submission order (the same on every member): the
/// exchange, and for a reduction the floats it sums in place, from `offset` of `storage` on.
struct GangJob: Sendable {
    let exchange: GangProtocol.Job
    let storage: FloatStorage?
    let offset: Int

    /// Sum (or average) `count` floats at `offset` of `storage` over the gang, in place.
    static func reduce(storage: FloatStorage, offset: Int, count: Int, average: Bool, step: UInt64, bucket: UInt32,
                       inStep: Bool) -> GangJob {
        GangJob(exchange: .reduce(count: count, average: average, step: step, bucket: bucket, inStep: inStep),
                storage: storage, offset: offset)
    }

    /// Every member's bytes.
    static func gather(bytes: [UInt8], step: UInt64) -> GangJob {
        GangJob(exchange: .gather(bytes: bytes, step: step), storage: nil, offset: 0)
    }
}

/// State shared by a member's callers and its communication thread, guarded by `condition`.
final class GangShared: @unchecked Sendable {
    let condition = NSCondition()
    private var jobs: [GangJob] = []
    private var closing = false
    private(set) var completed = 0
    private(set) var failure: GangError?
    private(set) var ready = false
    var gathered: [[UInt8]] = []
    var statistics = GangStatistics()
    var step = GangStatistics.Counters()

    func submit(_ job: GangJob) {
        condition.withLock {
            jobs.append(job)
            condition.broadcast()
        }
    }

    /// The jobs submitted since the last call, in order, and whether the member is closing.
    func takeJobs() -> (jobs: [GangJob], closing: Bool) {
        condition.withLock {
            defer { jobs = [] }
            return (jobs, closing)
        }
    }

    func complete(_ counters: GangStatistics.Counters, inStep: Bool, gathered: [[UInt8]]? = nil) {
        condition.withLock {
            completed += 1
            statistics.total = statistics.total + counters
            if inStep { step = step + counters }
            if let gathered { self.gathered = gathered }
            condition.broadcast()
        }
    }

    func fail(_ error: GangError) {
        condition.withLock {
            if failure == nil { failure = error }
            condition.broadcast()
        }
    }

    func setReady() {
        condition.withLock {
            ready = true
            condition.broadcast()
        }
    }

    func requestClose() {
        condition.withLock {
            closing = true
            condition.broadcast()
        }
    }

    /// Blocks the communication thread after a failure until the member is closed.
    func waitForClose() {
        condition.withLock {
            while !closing { condition.wait() }
        }
    }

    /// Waits until `done()` holds (checked under the lock), a failure, or cancellation, in short slices.
    func wait(gangID: UInt64, rank: Int, cancelled: () -> Bool, until done: () -> Bool) throws(GangError) {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let failure { throw failure }
            if done() { return }
            if cancelled() { throw .cancelled(gangID: gangID, rank: rank) }
            _ = condition.wait(until: Date(timeIntervalSinceNow: 0.05))
        }
    }
}
