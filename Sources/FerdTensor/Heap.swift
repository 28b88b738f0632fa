/// The engine's malloc settings. By default glibc serves blocks above 128 KiB (a threshold that grows as
/// such blocks are freed, up to 32 MiB) with fresh mmap'd pages and hands the heap's free top back to the
/// system, so a training step's activations and gradients come back as zero-filled pages on every step. At
/// batch 2 of the paper model (blocks up to 26 MiB) the page faults cost about 5% of the step; at a paper batch
/// (GCA+IAL's 40 clips: blocks of hundreds of MiB) they were a third of the CPU time and the step took 1.5× as
/// long. So every block comes from the heap (no mmap), the heap is never trimmed, and all threads share the main
/// arena (another thread's arena could not hold a block over 64 MiB and would map it): a step's memory is faulted
/// in once and reused by every later step. The process keeps its peak heap until it exits, which a training
/// process reaches again on every step anyway. A thread keeps the arena of its first allocation, so programs call
/// ``configure()`` before they start threads; every operation's result applies the settings too, for the rest.
public enum Heap {
    /// Applies the settings (once; later calls do nothing).
    public static func configure() {
        configured
    }

    /// The settings, applied on first use.
    static let configured: Void = {
        #if os(Linux)
        _ = mallopt(arenaMaximum, 1)
        _ = mallopt(mmapMaximum, 0)
        _ = mallopt(trimThreshold, -1)
        #endif
    }()

    #if os(Linux)
    /// M_TRIM_THRESHOLD, M_MMAP_MAX and M_ARENA_MAX of glibc's <malloc.h>, which the Glibc module does not export.
    private static let trimThreshold: Int32 = -1, mmapMaximum: Int32 = -4, arenaMaximum: Int32 = -8
    #endif
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)`.
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
