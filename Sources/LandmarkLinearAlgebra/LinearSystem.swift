/// Small dense linear systems in double precision, for the few places that solve a handful of unknowns
/// (a homography's Levenberg–Marquardt step, a logistic regression's Newton step) where LAPACK's call
/// overhead would dominate.
public enum LinearSystem {
    /// Gaussian elimination with partial pivoting on an n×n row-major system; nil when singular.
    public static func solve(_ matrix: [Double], _ rhs: [Double], n: Int) -> [Double]? {
        var a = matrix, b = rhs
        var largest = 0.0
        for value in a { largest = max(largest, abs(value)) }
        guard largest > 0, largest.isFinite else { return nil }
        for column in 0 ..< n {
            var pivot = column
            for row in column + 1 ..< n where abs(a[row * n + column]) > abs(a[pivot * n + column]) { pivot = row }
            guard abs(a[pivot * n + column]) > 1e-14 * largest else { return nil }
            if pivot != column {
                for k in 0 ..< n { a.swapAt(pivot * n + k, column * n + k) }
                b.swapAt(pivot, column)
            }
            for row in column + 1 ..< n {
                let factor = a[row * n + column] / a[column * n + column]
                if factor == 0 { continue }
                for k in column ..< n { a[row * n + k] -= factor * a[column * n + k] }
                b[row] -= factor * b[column]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var value = b[row]
            for k in row + 1 ..< n { value -= a[row * n + k] * x[k] }
            x[row] = value / a[row * n + row]
        }
        return x.allSatisfy(\.isFinite) ? x : nil
    }
}
