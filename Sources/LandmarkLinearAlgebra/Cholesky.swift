/// Cholesky factorisation of symmetric positive-definite matrices (LAPACK `spotrf`/`spotri`).
public enum Cholesky {
    /// The lower-triangular L with `spd = L · Lᵀ`; the strict upper triangle of the result is zero.
    /// Only the lower triangle of `spd` is read.
    /// - Throws: `.notPositiveDefinite` when a pivot is not positive, `.nonFinite` for NaN/infinity.
    public static func factorLower(_ spd: Matrix) throws(LinearAlgebraError) -> Matrix {
        var factor = try factorInPlace(spd, routine: "spotrf")
        let n = spd.rows
        for row in 0 ..< n {
            for column in (row + 1) ..< max(n, row + 1) {
                factor.storage[row * n + column] = 0
            }
        }
        return factor
    }

    /// The inverse of a symmetric positive-definite matrix, through its Cholesky factor (cheaper
    /// and more stable than a general inverse). The result is exactly symmetric.
    /// - Throws: `.notPositiveDefinite` when `spd` is not positive definite.
    public static func inverse(_ spd: Matrix) throws(LinearAlgebraError) -> Matrix {
        var result = try factorInPlace(spd, routine: "spotrf")
        let n = spd.rows
        guard n > 0 else { return result }
        let status = result.storage.withUnsafeMutableBufferPointer { a in
            BLASBackend.active.spotri(LAPACKLayout.rowMajor, CChar(UInt8(ascii: "L")), Int32(n), a.baseAddress, Int32(n))
        }
        if status < 0 {
            throw LinearAlgebraError(code: .invalidArgument, routine: "spotri", reason: "argument \(-status) was rejected")
        }
        if status > 0 {
            throw LinearAlgebraError(code: .notPositiveDefinite, routine: "spotri",
                                     reason: "the factor has a zero diagonal element at \(status); the matrix is singular")
        }
        // spotri fills the lower triangle only; mirror it.
        for row in 0 ..< n {
            for column in (row + 1) ..< max(n, row + 1) {
                result.storage[row * n + column] = result.storage[column * n + row]
            }
        }
        return result
    }

    private static func factorInPlace(_ spd: Matrix, routine: String) throws(LinearAlgebraError) -> Matrix {
        precondition(spd.rows == spd.columns, "Cholesky needs a square matrix")
        guard spd.storage.allSatisfy(\.isFinite) else {
            throw LinearAlgebraError(code: .nonFinite, routine: routine, reason: "the matrix contains NaN or infinity")
        }
        var factor = spd
        let n = spd.rows
        guard n > 0 else { return factor }
        let status = factor.storage.withUnsafeMutableBufferPointer { a in
            BLASBackend.active.spotrf(LAPACKLayout.rowMajor, CChar(UInt8(ascii: "L")), Int32(n), a.baseAddress, Int32(n))
        }
        if status < 0 {
            throw LinearAlgebraError(code: .invalidArgument, routine: routine, reason: "argument \(-status) was rejected")
        }
        if status > 0 {
            throw LinearAlgebraError(code: .notPositiveDefinite, routine: routine,
                                     reason: "the leading minor of order \(status) is not positive definite")
        }
        return factor
    }
}
