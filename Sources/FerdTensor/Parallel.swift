import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// The engine's thread settings: OpenBLAS's own threads for GEMM and `concurrentPerform` for the
/// element-wise, im2col and reduction loops.
public enum Threading {
    private static let configured = Atomic<Int>(ProcessInfo.processInfo.activeProcessorCount)

    /// The number of threads the engine uses (default: all cores).
    public static var count: Int { configured.load(ordering: .relaxed) }

    /// Sets the number of threads for both OpenBLAS and the engine's own loops.
    public static func setCount(_ threads: Int) {
        let threads = max(1, threads)
        configured.store(threads, ordering: .relaxed)
        openblas_set_num_threads(Int32(threads))
    }
}

/// Parallel loops over index ranges.
enum Parallel {
    /// Calls `body` on disjoint chunks that together cover `0..<count`, in parallel when the work is
    /// large enough (`count × costPerItem` ≳ 32k) and more than one thread is configured.
    static func forRange(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
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
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: chunkCount) { chunk in
                let start = chunk * chunkSize
                shared.value(start..<min(count, start + chunkSize))
            }
        }
    }
}

/// Carries a loop body across `concurrentPerform`: the chunks it is called on are disjoint, which is
/// what makes sharing it safe.
private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
