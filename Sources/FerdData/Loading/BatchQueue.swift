import Foundation

/// A bounded, blocking queue of batch results between one producer thread and one consumer.
final class BatchQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var items: [Result<ClipBatch, DataError>] = []
    private var finished = false
    private var cancelled = false

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// Waits for room, then adds `item`; false if the consumer has gone.
    func put(_ item: Result<ClipBatch, DataError>) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while items.count >= capacity && !cancelled { condition.wait() }
        guard !cancelled else { return false }
        items.append(item)
        condition.broadcast()
        return true
    }

    /// Whether the consumer has gone.
    var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    /// No more items will come.
    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the next item; nil when the producer has finished and the queue is empty.
    func take() -> Result<ClipBatch, DataError>? {
        condition.lock()
        defer { condition.unlock() }
        while items.isEmpty && !finished { condition.wait() }
        guard !items.isEmpty else { return nil }
        let item = items.removeFirst()
        condition.broadcast()
        return item
    }

    /// The consumer has gone: wake the producer and drop what is queued.
    func cancel() {
        condition.lock()
        cancelled = true
        items.removeAll()
        condition.broadcast()
        condition.unlock()
    }
}

/// One epoch of batches, built on a background thread up to `prefetch` batches ahead of the caller.
/// Each element is a batch or the error that stopped the epoch (a missing or corrupt frame); the
/// sequence ends after an error. Dropping the sequence stops the background work.
public final class ClipBatchSequence: Sequence, IteratorProtocol {
    private let queue: BatchQueue

    init(queue: BatchQueue) {
        self.queue = queue
    }

    deinit { queue.cancel() }

    /// Waits for the next batch or error; nil at the end of the epoch.
    public func next() -> Result<ClipBatch, DataError>? {
        queue.take()
    }

    /// Waits for the next batch; nil at the end of the epoch; throws the error that stopped it.
    public func nextBatch() throws -> ClipBatch? {
        try next()?.get()
    }
}
