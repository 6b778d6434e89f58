import COpenBLAS
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LandmarkStorage

/// The C entry points one BLAS/LAPACK library provides. Both candidate libraries share the
/// OpenBLAS ABI (32-bit integers, CBLAS enums), so one table of function pointers serves both.
struct BLASBackend: @unchecked Sendable {
    typealias Sgemm = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, Float,
        UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    typealias Sgemv = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, Int32, Int32, Float, UnsafePointer<Float>?, Int32,
        UnsafePointer<Float>?, Int32, Float, UnsafeMutablePointer<Float>?, Int32
    ) -> Void
    typealias Ssyevd = @convention(c) (
        Int32, CChar, CChar, Int32, UnsafeMutablePointer<Float>?, Int32, UnsafeMutablePointer<Float>?
    ) -> Int32
    typealias Spotrf = @convention(c) (Int32, CChar, Int32, UnsafeMutablePointer<Float>?, Int32) -> Int32
    typealias Spotri = @convention(c) (Int32, CChar, Int32, UnsafeMutablePointer<Float>?, Int32) -> Int32
    typealias Dgemm = @convention(c) (
        CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, Int32, Int32, Int32, Double,
        UnsafePointer<Double>?, Int32, UnsafePointer<Double>?, Int32, Double, UnsafeMutablePointer<Double>?, Int32
    ) -> Void
    typealias Dsyevd = @convention(c) (
        Int32, CChar, CChar, Int32, UnsafeMutablePointer<Double>?, Int32, UnsafeMutablePointer<Double>?
    ) -> Int32
    typealias Dpotrf = @convention(c) (Int32, CChar, Int32, UnsafeMutablePointer<Double>?, Int32) -> Int32
    typealias Dtrtri = @convention(c) (Int32, CChar, CChar, Int32, UnsafeMutablePointer<Double>?, Int32) -> Int32
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetThreads = @convention(c) () -> Int32
    typealias GetString = @convention(c) () -> UnsafeMutablePointer<CChar>?

    let sgemm: Sgemm
    let sgemv: Sgemv
    let ssyevd: Ssyevd
    let spotrf: Spotrf
    let spotri: Spotri
    let dgemm: Dgemm
    let dsyevd: Dsyevd
    let dpotrf: Dpotrf
    let dtrtri: Dtrtri
    let setThreads: SetThreads
    let getThreads: GetThreads
    let description: String

    /// Debian's OpenBLAS, linked at build time: always present, but 0.3.21 predates some CPUs
    /// and then falls back to its generic kernels (about a quarter of the SkylakeX speed on the
    /// Xeons in MACHINE-NOTES.md; on a host it does recognise, e.g. as Cooperlake, it is as fast).
    static let debian: BLASBackend = {
        let config = openblas_get_config().map { String(cString: $0) } ?? "unknown configuration"
        let core = openblas_get_corename().map { String(cString: $0) } ?? "unknown core"
        return BLASBackend(
            sgemm: cblas_sgemm, sgemv: cblas_sgemv, ssyevd: LAPACKE_ssyevd, spotrf: LAPACKE_spotrf,
            spotri: LAPACKE_spotri, dgemm: cblas_dgemm, dsyevd: LAPACKE_dsyevd, dpotrf: LAPACKE_dpotrf,
            dtrtri: LAPACKE_dtrtri, setThreads: openblas_set_num_threads, getThreads: openblas_get_num_threads,
            description: "Debian OpenBLAS (\(config), core \(core))")
    }()

    /// The current OpenBLAS from PyPI's `scipy-openblas32` wheel, which `scripts/setup.sh`
    /// installs into the cache; nil when it is absent or lacks a symbol.
    static let scipyOpenBLAS: BLASBackend? = {
        let path = scipyOpenBLASPath()
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else { return nil }
        func symbol<Function>(_ name: String, as type: Function.Type) -> Function? {
            guard let address = dlsym(handle, name) else { return nil }
            return unsafeBitCast(address, to: type)
        }
        guard let sgemm = symbol("scipy_cblas_sgemm", as: Sgemm.self),
              let sgemv = symbol("scipy_cblas_sgemv", as: Sgemv.self),
              let ssyevd = symbol("scipy_LAPACKE_ssyevd", as: Ssyevd.self),
              let spotrf = symbol("scipy_LAPACKE_spotrf", as: Spotrf.self),
              let spotri = symbol("scipy_LAPACKE_spotri", as: Spotri.self),
              let dgemm = symbol("scipy_cblas_dgemm", as: Dgemm.self),
              let dsyevd = symbol("scipy_LAPACKE_dsyevd", as: Dsyevd.self),
              let dpotrf = symbol("scipy_LAPACKE_dpotrf", as: Dpotrf.self),
              let dtrtri = symbol("scipy_LAPACKE_dtrtri", as: Dtrtri.self),
              let setThreads = symbol("scipy_openblas_set_num_threads", as: SetThreads.self),
              let getThreads = symbol("scipy_openblas_get_num_threads", as: GetThreads.self)
        else {
            dlclose(handle)
            return nil
        }
        let config = symbol("scipy_openblas_get_config", as: GetString.self)?().map { String(cString: $0) }
        let core = symbol("scipy_openblas_get_corename", as: GetString.self)?().map { String(cString: $0) }
        // The handle stays open for the life of the process: the function pointers point into it.
        return BLASBackend(
            sgemm: sgemm, sgemv: sgemv, ssyevd: ssyevd, spotrf: spotrf, spotri: spotri,
            dgemm: dgemm, dsyevd: dsyevd, dpotrf: dpotrf, dtrtri: dtrtri, setThreads: setThreads, getThreads: getThreads,
            description: "scipy-openblas (\(config ?? "unknown configuration"), core \(core ?? "unknown"))")
    }()

    /// `LANDMARK_BLAS_LIBRARY` if set, else the cache location `scripts/setup.sh` installs to.
    static func scipyOpenBLASPath() -> String {
        let environment = ProcessInfo.processInfo.environment
        if let explicit = environment["LANDMARK_BLAS_LIBRARY"], !explicit.isEmpty {
            return explicit
        }
        return CacheDirectory.root(environment: environment).appendingPathComponent("scipy-openblas32/lib/libscipy_openblas.so").path
    }

    /// The fastest correct library available: the current OpenBLAS when installed, else Debian's.
    ///
    /// Every call, single and double precision, goes to this one library, and it runs each call on the
    /// calling thread: the thread count is set to 1 once, here, and never changed by library code. The
    /// library spreads work over the cores itself (images, query blocks, row bands of large products,
    /// see ``BLAS/gemmOnAllCores(transposeA:transposeB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``), so
    /// concurrent callers, such as a service's requests, never share or toggle BLAS threads. (OpenBLAS's
    /// own threads also spin between calls and collapse when several callers use them at once.)
    static let active: BLASBackend = {
        let backend = scipyOpenBLAS ?? debian
        backend.setThreads(1)
        if scipyOpenBLAS != nil { debian.setThreads(1) }
        return backend
    }()
}
