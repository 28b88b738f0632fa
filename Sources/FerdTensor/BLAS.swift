import COpenBLAS
import Dispatch

/// Thin typed wrappers over the OpenBLAS calls the engine uses.
///
/// The engine does its own threading: OpenBLAS runs single-threaded and ``gemm`` splits a large
/// product over the engine's threads. (OpenBLAS's pthreads spin for a long while after each call,
/// which on few cores takes the CPU away from the element-wise loops that follow.)
enum BLAS {
    /// Switches OpenBLAS to one thread, once, before the engine's first call into it.
    private static let singleThreaded: Void = openblas_set_num_threads(1)

    /// C = alpha·op(A)·op(B) + beta·C for row-major matrices; op(A) is m×k, op(B) is k×n, C is m×n.
    /// Charges the FLOPs to the profiler and splits the product over `Threading.count` threads.
    static func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        Profiler.countFlops(2 * Double(m) * Double(n) * Double(k))
        gemm(threads: Threading.count, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
             alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// ``gemm`` on at most `threads` threads, without profiling: splits C into blocks of rows or of
    /// columns (whichever dimension is longer) of at least ~4 MFLOP each.
    static func gemm(threads: Int, transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
                     alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                     b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard m > 0, n > 0 else { return }
        guard k > 0 else {
            if beta == 0 {
                for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
            }
            return
        }
        let parts = min(threads, Int(2 * Double(m) * Double(n) * Double(k) / 4e6), max(m, n) / 16)
        guard parts > 1 else {
            sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let splitRows = m > n
        let extent = splitRows ? m : n
        let block = ((extent + parts - 1) / parts + 15) / 16 * 16
        Parallel.perform((extent + block - 1) / block) { part in
            let start = part * block, size = min(block, extent - start)
            if splitRows {
                sgemm(transposeA: transposeA, transposeB: transposeB, m: size, n: n, k: k, alpha: alpha,
                      a: a + (transposeA ? start : start * lda), lda: lda, b: b, ldb: ldb,
                      beta: beta, c: c + start * ldc, ldc: ldc)
            } else {
                sgemm(transposeA: transposeA, transposeB: transposeB, m: m, n: size, k: k, alpha: alpha,
                      a: a, lda: lda, b: b + (transposeB ? start * ldb : start), ldb: ldb,
                      beta: beta, c: c + start, ldc: ldc)
            }
        }
    }

    /// One single-threaded `cblas_sgemm` call; m, n and k are positive.
    @inline(__always)
    private static func sgemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                              a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                              beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        singleThreaded
        cblas_sgemm(CblasRowMajor,
                    transposeA ? CblasTrans : CblasNoTrans,
                    transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
}
