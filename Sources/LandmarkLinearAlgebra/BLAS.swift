import COpenBLAS
import Dispatch
import Foundation

/// The single entry point for BLAS and LAPACK work in the project.
///
/// At first use it picks the fastest correct library present: the current OpenBLAS from the
/// `scipy-openblas32` wheel (loaded with `dlopen` from `LANDMARK_BLAS_LIBRARY`, else from
/// `${LANDMARK_CACHE:-${XDG_CACHE_HOME:-~/.cache}/landmark}/scipy-openblas32/lib/`), which
/// recognises current CPUs — on the AVX-512 Xeons we measured, its SkylakeX kernels run about
/// 4× faster than the generic kernels Debian's OpenBLAS 0.3.21 falls back to; otherwise
/// Debian's, linked at build time. Callers never see which; `backendDescription` says it for
/// logs and benchmarks. Environment variables such as `OPENBLAS_CORETYPE` are never touched.
///
/// All matrices are row-major (see ``Matrix``).
public enum BLAS {
    /// Which library is in use, with its build configuration and CPU kernel, e.g.
    /// "scipy-openblas (OpenBLAS 0.3.30 … , core SkylakeX)".
    public static var backendDescription: String { BLASBackend.active.description }

    /// Whether the fast, separately installed OpenBLAS is in use (false: Debian's fallback).
    public static var isUsingOptimizedBackend: Bool { BLASBackend.scipyOpenBLAS != nil }

    /// How many threads the library uses inside one call: 1 (see `BLASBackend.active`), unless a
    /// benchmark has changed it.
    public static var threadCount: Int { Int(BLASBackend.active.getThreads()) }

    /// Sets how many threads the library uses inside one call. Process-wide, so only benchmarks that
    /// measure OpenBLAS's own threading call it, from a single-threaded command.
    @_spi(Benchmarks) public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "Thread count must be at least 1")
        BLASBackend.active.setThreads(Int32(clamping: count))
    }

    /// C = alpha · op(A) · op(B) + beta · C on raw row-major buffers, where op(A) is m × k,
    /// op(B) is k × n and C is m × n; `lda`, `ldb`, `ldc` are the row strides of the buffers as
    /// stored (before the optional transpose).
    public static func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                            beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        gemm(BLASBackend.active, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
             a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }

    /// The same product with the rows of C split into bands, one single-threaded call per core at
    /// once: large products use every core without BLAS threads. Small ones (under ~4 M
    /// multiply-adds, or too few rows to share) run as one call on the calling thread.
    public static func gemmOnAllCores(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                                      a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                                      beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let bands = min(cores, m / 32)
        guard bands > 1, m * n * k >= 1 << 22 else {
            gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            return
        }
        let pointers = BandPointers(a: a, b: b, c: c)
        DispatchQueue.concurrentPerform(iterations: bands) { band in
            let start = m * band / bands, end = m * (band + 1) / bands
            // Row `start` of op(A) is row `start` of A, or column `start` when A is transposed.
            let aBand = transposeA ? pointers.a + start : pointers.a + start * lda
            gemm(transposeA: transposeA, transposeB: transposeB, m: end - start, n: n, k: k, alpha: alpha,
                 a: aBand, lda: lda, b: pointers.b, ldb: ldb, beta: beta, c: pointers.c + start * ldc, ldc: ldc)
        }
    }

    /// y = alpha · op(A) · x + beta · y, where A is stored `rows` × `columns` row-major with row
    /// stride `lda`; op(A) is A, or Aᵀ when `transpose` is true. x and y have unit stride.
    public static func gemv(transpose: Bool, rows: Int, columns: Int, alpha: Float,
                            a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                            beta: Float, y: UnsafeMutablePointer<Float>) {
        gemv(BLASBackend.active, transpose: transpose, rows: rows, columns: columns, alpha: alpha,
             a: a, lda: lda, x: x, beta: beta, y: y)
    }

    static func gemm(_ backend: BLASBackend, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
                     alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        precondition(m >= 0 && n >= 0 && k >= 0, "gemm dimensions must be non-negative")
        precondition(lda >= max(1, transposeA ? m : k), "gemm: lda too small")
        precondition(ldb >= max(1, transposeB ? k : n), "gemm: ldb too small")
        precondition(ldc >= max(1, n), "gemm: ldc too small")
        precondition(m <= Int(Int32.max) && n <= Int(Int32.max) && k <= Int(Int32.max), "gemm: dimension exceeds 32 bits")
        guard m > 0, n > 0 else { return }
        backend.sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    static func gemv(_ backend: BLASBackend, transpose: Bool, rows: Int, columns: Int, alpha: Float,
                     a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                     beta: Float, y: UnsafeMutablePointer<Float>) {
        precondition(rows >= 0 && columns >= 0, "gemv dimensions must be non-negative")
        precondition(lda >= max(1, columns), "gemv: lda too small")
        precondition(rows <= Int(Int32.max) && columns <= Int(Int32.max), "gemv: dimension exceeds 32 bits")
        guard rows > 0, columns > 0 else { return }
        backend.sgemv(CblasRowMajor, transpose ? CblasTrans : CblasNoTrans, Int32(rows), Int32(columns), alpha,
                      a, Int32(lda), x, 1, beta, y, 1)
    }
}

/// The operands of `gemmOnAllCores`, shared by its bands: each band writes its own rows of C.
private struct BandPointers: @unchecked Sendable {
    let a: UnsafePointer<Float>
    let b: UnsafePointer<Float>
    let c: UnsafeMutablePointer<Float>
}
