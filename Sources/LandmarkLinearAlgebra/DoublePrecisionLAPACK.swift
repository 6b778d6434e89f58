import COpenBLAS

/// Double-precision LAPACK/BLAS for learning whitening.
///
/// cirtorch learns whitening with numpy, whose linear algebra runs in float64. PCA-whitening divides
/// by the square roots of the smallest eigenvalues, and float32 eigenvectors of nearly equal
/// eigenvalues mix, so learning in float32 would miss the reference by far more than 1e-4. Learning
/// is done once per dataset, so the cost of float64 does not matter; applying stays float32. The calls
/// go to the same library as every float32 one (`BLASBackend.active`).
public enum DoublePrecisionLAPACK {
    /// Row-major n × n symmetric eigendecomposition: eigenvalues descending, eigenvectors as the
    /// columns of the returned row-major matrix.
    public static func symmetricEigen(_ matrix: [Double], n: Int) -> (values: [Double], vectors: [Double])? {
        var work = matrix
        var ascending = [Double](repeating: 0, count: n)
        let status = work.withUnsafeMutableBufferPointer { a in
            ascending.withUnsafeMutableBufferPointer { w in
                BLASBackend.active.dsyevd(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")),
                               Int32(n), a.baseAddress, Int32(n), w.baseAddress)
            }
        }
        guard status == 0 else { return nil }
        var vectors = [Double](repeating: 0, count: n * n)
        for column in 0 ..< n {
            let source = n - 1 - column
            for row in 0 ..< n {
                vectors[row * n + column] = work[row * n + source]
            }
        }
        return (Array(ascending.reversed()), vectors)
    }

    /// The lower Cholesky factor of a row-major n × n matrix, nil when it is not positive definite.
    public static func choleskyLower(_ matrix: [Double], n: Int) -> [Double]? {
        var factor = matrix
        let status = factor.withUnsafeMutableBufferPointer { a in
            BLASBackend.active.dpotrf(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), Int32(n), a.baseAddress, Int32(n))
        }
        guard status == 0 else { return nil }
        for row in 0 ..< n {
            for column in row + 1 ..< max(n, row + 1) { factor[row * n + column] = 0 }
        }
        return factor
    }

    /// The inverse of a lower-triangular row-major n × n matrix.
    public static func invertLower(_ matrix: [Double], n: Int) -> [Double]? {
        var inverse = matrix
        let status = inverse.withUnsafeMutableBufferPointer { a in
            BLASBackend.active.dtrtri(LAPACK_ROW_MAJOR, CChar(UInt8(ascii: "L")), CChar(UInt8(ascii: "N")), Int32(n),
                           a.baseAddress, Int32(n))
        }
        guard status == 0 else { return nil }
        for row in 0 ..< n {
            for column in row + 1 ..< max(n, row + 1) { inverse[row * n + column] = 0 }
        }
        return inverse
    }

    /// C = op(A) · op(B) for row-major operands; op(A) is m × k, op(B) is k × n.
    public static func multiply(_ a: [Double], transposeA: Bool, _ b: [Double], transposeB: Bool,
                         m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        guard m > 0, n > 0, k > 0 else { return c }
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    BLASBackend.active.dgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans,
                                transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k), 1,
                                a.baseAddress, Int32(transposeA ? m : k), b.baseAddress, Int32(transposeB ? k : n),
                                0, c.baseAddress, Int32(n))
                }
            }
        }
        return c
    }
}
