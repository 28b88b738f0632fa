import Dispatch
import Foundation

/// A mutable buffer shared by parallel workers that each write their own, disjoint elements.
struct SharedBuffer<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
}

/// Runs loops on all cores with `DispatchQueue.concurrentPerform`.
enum Parallel {
    /// The number of workers to use for `count` items (at most one per core, at least one).
    static func workers(for count: Int, limit: Int? = nil) -> Int {
        max(1, min(count, limit ?? ProcessInfo.processInfo.activeProcessorCount))
    }

    /// `transform(i)` for i in `0..<count`, computed by `workers` threads, in order.
    static func map<T>(_ count: Int, workers: Int? = nil, _ transform: @Sendable (Int) -> T) -> [T] {
        let workerCount = Self.workers(for: count, limit: workers)
        let results = UnsafeMutableBufferPointer<T?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer {
            _ = results.deinitialize()
            results.deallocate()
        }
        let shared = SharedBuffer(buffer: results)
        DispatchQueue.concurrentPerform(iterations: workerCount) { worker in
            for i in stride(from: worker, to: count, by: workerCount) {
                shared.buffer[i] = transform(i)
            }
        }
        return results.map { $0! }
    }
}
