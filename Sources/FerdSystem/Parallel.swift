import Dispatch
import Foundation
import Synchronization

/// The engine's thread settings: how many threads `concurrentPerform` spreads the GEMMs, convolutions,
/// element-wise and reduction loops over. OpenBLAS itself always runs single-threaded (see ``BLAS``).
public enum Threading {
    private static let configured = Atomic<Int>(ProcessInfo.processInfo.activeProcessorCount)

    /// The number of threads the engine uses (default: all cores).
    public static var count: Int { configured.load(ordering: .relaxed) }

    /// Sets the number of threads of the engine's loops and GEMMs.
    public static func setCount(_ threads: Int) {
        configured.store(max(1, threads), ordering: .relaxed)
    }
}

/// Parallel loops on the engine's threads (``SpinningPool``): the one helper every layer uses.
public enum Parallel {
    /// Calls `body` on disjoint chunks that together cover `0..<count`, in parallel when the work is
    /// large enough (`count × costPerItem` ≳ 32k) and more than one thread is configured.
    public static func forRange(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = Threading.count
        let work = count * max(1, costPerItem)
        if threads <= 1 || work < 32_768 || count == 1 {
            body(0..<count)
            return
        }
        let chunks = min(count, threads * 4, max(1, work / 16_384))
        let chunkSize = (count + chunks - 1) / chunks
        let chunkCount = (count + chunkSize - 1) / chunkSize
        perform(chunkCount) { chunk in
            let start = chunk * chunkSize
            body(start..<min(count, start + chunkSize))
        }
    }

    /// `body(i)` for every i in `0..<iterations` on the engine's threads (`Threading.count`, the calling
    /// thread included), like `concurrentPerform` but on threads that stay awake between loops
    /// (``SpinningPool``); returns when all have finished.
    public static func perform(_ iterations: Int, _ body: (Int) -> Void) {
        SpinningPool.shared.perform(iterations: iterations, threads: Threading.count, body)
    }

    /// Calls `body(worker, item)` for every item of `0..<count` on `workers` threads; worker w takes
    /// items w, w + workers, w + 2·workers, …. A worker index is only ever used by one thread at a time,
    /// so `body` can keep per-worker scratch buffers, and because the split does not depend on timing,
    /// per-worker partial sums (and so the results) are the same on every run with the same thread count.
    public static func forEachItem(_ count: Int, workers: Int, _ body: (_ worker: Int, _ item: Int) -> Void) {
        guard count > 0 else { return }
        guard workers > 1 else {
            for item in 0..<count { body(0, item) }
            return
        }
        SpinningPool.shared.perform(iterations: workers, threads: workers) { worker in
            for item in stride(from: worker, to: count, by: workers) {
                body(worker, item)
            }
        }
    }
}

extension Parallel {
    /// The number of workers to use for `count` items (at most one per core, or `limit`; at least one).
    public static func workers(for count: Int, limit: Int? = nil) -> Int {
        max(1, min(count, limit ?? ProcessInfo.processInfo.activeProcessorCount))
    }

    /// `transform(i)` for i in `0..<count`, computed by `workers` threads, in order.
    public static func map<T>(_ count: Int, workers: Int? = nil, _ transform: @Sendable (Int) -> T) -> [T] {
        let workerCount = Self.workers(for: count, limit: workers)
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        let shared = UncheckedSendable(results)
        DispatchQueue.concurrentPerform(iterations: workerCount) { worker in
            for i in stride(from: worker, to: count, by: workerCount) {
                shared.value[i] = transform(i)
            }
        }
        return results.map { $0! }
    }
}

/// Carries a loop body or a buffer pointer across `concurrentPerform`: the threads it is shared with
/// work on disjoint parts, which is what makes sharing it safe.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}
