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
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetThreads = @convention(c) () -> Int32
    typealias GetString = @convention(c) () -> UnsafeMutablePointer<CChar>?

    let sgemm: Sgemm
    let sgemv: Sgemv
    let ssyevd: Ssyevd
    let spotrf: Spotrf
    let spotri: Spotri
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
            spotri: LAPACKE_spotri, setThreads: openblas_set_num_threads, getThreads: openblas_get_num_threads,
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
            sgemm: sgemm, sgemv: sgemv, ssyevd: ssyevd, spotrf: spotrf, spotri: spotri, setThreads: setThreads, getThreads: getThreads,
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
    static let active: BLASBackend = scipyOpenBLAS ?? debian
}
