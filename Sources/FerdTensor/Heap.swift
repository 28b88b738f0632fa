/// The engine's malloc settings. By default glibc serves blocks above 128 KiB (a threshold that grows as
/// such blocks are freed) with fresh mmap'd pages and hands the heap's free top back to the system, so
/// a training step's activations and gradients (up to 26 MiB each in the paper model's stem) come back
/// as zero-filled pages on every step: page faults cost about 5% of the CPU time of a paper step. Blocks
/// up to 32 MiB (glibc's limit) from the heap, kept for reuse, remove that at the same peak memory.
enum Heap {
    /// Applies the settings, once; every operation's result touches it.
    static let configured: Void = {
        #if os(Linux)
        _ = mallopt(mmapThreshold, 32 << 20)
        _ = mallopt(trimThreshold, 1 << 30)
        #endif
    }()

    #if os(Linux)
    /// M_TRIM_THRESHOLD and M_MMAP_THRESHOLD of glibc's <malloc.h>, which the Glibc module does not export.
    private static let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3
    #endif
}

#if os(Linux)
/// glibc's `int mallopt(int param, int value)`.
@_silgen_name("mallopt")
private func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
