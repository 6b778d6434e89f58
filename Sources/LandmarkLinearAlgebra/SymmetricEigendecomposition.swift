/// Eigenvalues and eigenvectors of a real symmetric matrix (LAPACK `ssyevd`).
///
/// Eigenvalues are sorted descending — the order PCA and whitening want. Each eigenvector's
/// sign is fixed so that its largest-magnitude component is positive, which makes the result
/// reproducible across BLAS builds (LAPACK's own sign is arbitrary).
public struct SymmetricEigendecomposition: Sendable {
    /// Eigenvalues, largest first.
    public let eigenvalues: [Float]
    /// Unit eigenvectors as columns: column j belongs to `eigenvalues[j]`.
    public let eigenvectors: Matrix

    /// Decomposes `symmetric`; only its upper triangle is read.
    /// - Precondition: `symmetric` is square.
    /// - Throws: `.nonFinite` for NaN/infinite input, `.didNotConverge` if LAPACK fails.
    public init(_ symmetric: Matrix) throws(LinearAlgebraError) {
        precondition(symmetric.rows == symmetric.columns, "Eigendecomposition needs a square matrix")
        let n = symmetric.rows
        guard symmetric.storage.allSatisfy(\.isFinite) else {
            throw LinearAlgebraError(code: .nonFinite, routine: "ssyevd", reason: "the matrix contains NaN or infinity")
        }
        guard n > 0 else {
            eigenvalues = []
            eigenvectors = Matrix(rows: 0, columns: 0)
            return
        }
        var work = symmetric.storage
        var ascending = [Float](repeating: 0, count: n)
        let status = work.withUnsafeMutableBufferPointer { a in
            ascending.withUnsafeMutableBufferPointer { w in
                BLASBackend.active.ssyevd(LAPACKLayout.rowMajor, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")),
                                          Int32(n), a.baseAddress, Int32(n), w.baseAddress)
            }
        }
        if status < 0 {
            throw LinearAlgebraError(code: .invalidArgument, routine: "ssyevd", reason: "argument \(-status) was rejected")
        }
        if status > 0 {
            throw LinearAlgebraError(code: .didNotConverge, routine: "ssyevd",
                                     reason: "\(status) off-diagonal elements did not converge to zero")
        }
        // LAPACK returns ascending order; reverse columns and values.
        var vectors = Matrix(rows: n, columns: n)
        for column in 0 ..< n {
            let source = n - 1 - column
            var largest: Float = 0
            for row in 0 ..< n where abs(work[row * n + source]) > abs(largest) {
                largest = work[row * n + source]
            }
            let sign: Float = largest < 0 ? -1 : 1
            for row in 0 ..< n {
                vectors.storage[row * n + column] = sign * work[row * n + source]
            }
        }
        eigenvalues = ascending.reversed()
        eigenvectors = vectors
    }
}

enum LAPACKLayout {
    /// LAPACK_ROW_MAJOR.
    static let rowMajor: Int32 = 101
}
