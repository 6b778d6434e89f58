/// Cyclic Jacobi eigen-decomposition of a small symmetric matrix in Double.
///
/// The DLT needs the null vector of a 9×9 normal matrix to full double precision; the project's
/// LAPACK wrapper is single precision, and at this size Jacobi is both simple and accurate (it
/// finds small eigenvalues to high relative accuracy).
struct SymmetricJacobi {
    /// Eigenvalues, unsorted.
    var eigenvalues: [Double]
    /// Eigenvectors as columns of an n×n row-major matrix.
    var eigenvectors: [Double]
    let n: Int

    init(symmetric input: [Double], n: Int, maximumSweeps: Int = 60) {
        self.n = n
        var a = input
        var v = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { v[i * n + i] = 1 }
        a.withUnsafeMutableBufferPointer { a in
            v.withUnsafeMutableBufferPointer { v in
                var scale = 0.0
                for i in 0 ..< n * n { scale += a[i] * a[i] }
                guard scale > 0, scale.isFinite else { return }
                for _ in 0 ..< maximumSweeps {
                    var off = 0.0
                    for p in 0 ..< n - 1 { for q in p + 1 ..< n { off += a[p * n + q] * a[p * n + q] } }
                    if off <= 1e-30 * scale { break }
                    for p in 0 ..< n - 1 {
                        for q in p + 1 ..< n {
                            let apq = a[p * n + q]
                            if apq == 0 { continue }
                            let theta = (a[q * n + q] - a[p * n + p]) / (2 * apq)
                            let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                            let c = 1 / (t * t + 1).squareRoot()
                            let s = t * c
                            for k in 0 ..< n {
                                let akp = a[k * n + p], akq = a[k * n + q]
                                a[k * n + p] = c * akp - s * akq
                                a[k * n + q] = s * akp + c * akq
                            }
                            for k in 0 ..< n {
                                let apk = a[p * n + k], aqk = a[q * n + k]
                                a[p * n + k] = c * apk - s * aqk
                                a[q * n + k] = s * apk + c * aqk
                            }
                            a[p * n + q] = 0
                            a[q * n + p] = 0
                            for k in 0 ..< n {
                                let vkp = v[k * n + p], vkq = v[k * n + q]
                                v[k * n + p] = c * vkp - s * vkq
                                v[k * n + q] = s * vkp + c * vkq
                            }
                        }
                    }
                }
            }
        }
        eigenvalues = (0 ..< n).map { a[$0 * n + $0] }
        eigenvectors = v
    }

    /// Column indices ordered by ascending eigenvalue.
    var ascendingOrder: [Int] { (0 ..< n).sorted { eigenvalues[$0] < eigenvalues[$1] } }

    func eigenvector(_ column: Int) -> [Double] { (0 ..< n).map { eigenvectors[$0 * n + column] } }
}
