extension Matrix {
    /// The matrix product, computed by the active BLAS (see ``BLAS``).
    /// - Precondition: `lhs.columns == rhs.rows`.
    /// - Complexity: O(lhs.rows × rhs.columns × lhs.columns).
    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix {
        precondition(lhs.columns == rhs.rows,
                     "Cannot multiply \(lhs.rows) × \(lhs.columns) by \(rhs.rows) × \(rhs.columns)")
        return product(lhs, transposed: false, rhs, transposed: false)
    }

    /// `self · otherᵀ`: with descriptors as rows, entry (i, j) is the inner product of row i of
    /// `self` and row j of `other`, without materialising the transpose.
    /// - Precondition: `columns == other.columns`.
    public func multiplied(byTransposeOf other: Matrix) -> Matrix {
        precondition(columns == other.columns,
                     "Cannot multiply \(rows) × \(columns) by the transpose of \(other.rows) × \(other.columns)")
        return Self.product(self, transposed: false, other, transposed: true)
    }

    /// `selfᵀ · other`: with samples as rows, the cross-covariance of two sets of columns, without
    /// materialising the transpose.
    /// - Precondition: `rows == other.rows`.
    public func transposeMultiplied(by other: Matrix) -> Matrix {
        precondition(rows == other.rows, "Cannot multiply the transpose of \(rows) × \(columns) by \(other.rows) × \(other.columns)")
        return Self.product(self, transposed: true, other, transposed: false)
    }

    /// op(lhs) · op(rhs) by the active BLAS, op being the transpose where asked; the callers have
    /// checked that the inner dimensions agree.
    private static func product(_ lhs: Matrix, transposed transposeLeft: Bool, _ rhs: Matrix, transposed transposeRight: Bool) -> Matrix {
        let m = transposeLeft ? lhs.columns : lhs.rows
        let k = transposeLeft ? lhs.rows : lhs.columns
        let n = transposeRight ? rhs.rows : rhs.columns
        var result = Matrix(rows: m, columns: n)
        guard m > 0, n > 0, k > 0 else { return result }
        lhs.storage.withUnsafeBufferPointer { a in
            rhs.storage.withUnsafeBufferPointer { b in
                result.storage.withUnsafeMutableBufferPointer { c in
                    guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
                    BLAS.gemmOnAllCores(transposeA: transposeLeft, transposeB: transposeRight, m: m, n: n, k: k,
                                        alpha: 1, a: a, lda: lhs.columns, b: b, ldb: rhs.columns, beta: 0, c: c, ldc: n)
                }
            }
        }
        return result
    }

    /// `self · vector`.
    /// - Precondition: `vector.count == columns`.
    public func multiplied(by vector: [Float]) -> [Float] {
        precondition(vector.count == columns, "Vector length \(vector.count) does not match \(columns) columns")
        var result = [Float](repeating: 0, count: rows)
        guard rows > 0, columns > 0 else { return result }
        storage.withUnsafeBufferPointer { a in
            vector.withUnsafeBufferPointer { x in
                result.withUnsafeMutableBufferPointer { y in
                    guard let a = a.baseAddress, let x = x.baseAddress, let y = y.baseAddress else { return }
                    BLAS.gemv(transpose: false, rows: rows, columns: columns, alpha: 1, a: a, lda: columns,
                              x: x, beta: 0, y: y)
                }
            }
        }
        return result
    }

    /// Scales every row to unit L2 norm, so inner products become cosine similarities. Rows
    /// whose norm is zero stay zero rather than becoming NaN.
    public mutating func normalizeRows() {
        let columns = self.columns
        guard columns > 0 else { return }
        storage.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for row in 0 ..< rows {
                normalizeInPlace(UnsafeMutableBufferPointer(start: base + row * columns, count: columns))
            }
        }
    }
}

/// `vector` scaled to unit L2 norm; a zero vector is returned unchanged.
public func l2Normalized(_ vector: [Float]) -> [Float] {
    var result = vector
    result.withUnsafeMutableBufferPointer { normalizeInPlace($0) }
    return result
}

/// Sum of squares with eight independent accumulators, which the compiler keeps in one vector
/// register (a single running sum would serialise every addition).
@inlinable
func sumOfSquares(_ values: UnsafeBufferPointer<Float>) -> Float {
    var accumulator = SIMD8<Float>(repeating: 0)
    var index = 0
    let count = values.count
    while index + 8 <= count {
        var lane = SIMD8<Float>()
        for offset in 0 ..< 8 { lane[offset] = values[index + offset] }
        accumulator += lane * lane
        index += 8
    }
    var total = accumulator.sum()
    while index < count {
        total += values[index] * values[index]
        index += 1
    }
    return total
}

@inlinable
func normalizeInPlace(_ values: UnsafeMutableBufferPointer<Float>) {
    let norm = sumOfSquares(UnsafeBufferPointer(values)).squareRoot()
    guard norm > 0, norm.isFinite else { return }
    let scale = 1 / norm
    for index in values.indices { values[index] *= scale }
}
