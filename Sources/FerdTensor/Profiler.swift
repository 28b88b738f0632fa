import Dispatch
import Synchronization

/// Optional per-section accounting of forward time, backward time and GEMM FLOPs, for the benchmark's
/// "where the time goes" table. Off by default; when off, each operation pays one atomic load.
public enum Profiler {
    /// Totals of one named section.
    public struct Totals: Sendable {
        public var forwardSeconds: Double = 0
        public var backwardSeconds: Double = 0
        public var flops: Double = 0
        /// Convolution GEMM FLOPs (a subset of ``flops``), to compare the conv layers with sgemm peak.
        public var convolutionFlops: Double = 0
        public var convolutionSeconds: Double = 0
    }

    private static let enabled = Atomic<Bool>(false)
    private static let totals = Mutex<[String: Totals]>([:])
    @TaskLocal static var currentSection: String?

    /// Whether sections are being measured.
    public static var isEnabled: Bool { enabled.load(ordering: .relaxed) }

    /// Starts (or stops) measuring and clears what was measured.
    public static func setEnabled(_ on: Bool) {
        totals.withLock { $0 = [:] }
        enabled.store(on, ordering: .relaxed)
    }

    /// The totals per section measured since ``setEnabled(_:)``.
    public static func snapshot() -> [String: Totals] {
        totals.withLock { $0 }
    }

    /// Runs `body` as the forward pass of section `name`; the operations it records are charged to the
    /// same section when the backward pass runs them.
    public static func section<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard isEnabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try $currentSection.withValue(name, operation: body)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        totals.withLock { $0[name, default: Totals()].forwardSeconds += seconds }
        return result
    }

    /// Runs one backward step recorded in `section`, charging its time there.
    static func backward(in section: String?, _ body: () -> Void) {
        guard isEnabled, let section else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        $currentSection.withValue(section, operation: body)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        totals.withLock { $0[section, default: Totals()].backwardSeconds += seconds }
    }

    /// Charges `flops` GEMM floating-point operations to the current section.
    static func countFlops(_ flops: Double) {
        guard isEnabled else { return }
        totals.withLock { $0[currentSection ?? "other", default: Totals()].flops += flops }
    }

    /// Times one im2col convolution pass (forward or backward) doing `flops` GEMM work, and charges
    /// those FLOPs (its GEMMs run on worker threads, which do not see the current section).
    static func convolution<T>(flops: Double, _ body: () -> T) -> T {
        guard isEnabled else { return body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        totals.withLock {
            $0[currentSection ?? "other", default: Totals()].flops += flops
            $0[currentSection ?? "other", default: Totals()].convolutionFlops += flops
            $0[currentSection ?? "other", default: Totals()].convolutionSeconds += seconds
        }
        return result
    }
}
