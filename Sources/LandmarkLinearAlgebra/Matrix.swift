/// A dense matrix of `Float` in row-major order.
///
/// This is the one layout every descriptor matrix in the project uses: element (r, c) lives at
/// `storage[r * columns + c]`, so each row — one descriptor — is a contiguous run of `columns`
/// floats. That makes a row a ready-made BLAS operand (leading dimension = `columns`) and lets
/// descriptor stores memory-map rows without reshuffling.
public struct Matrix: Sendable, Equatable {
    /// Number of rows (for descriptor matrices: number of descriptors).
    public let rows: Int
    /// Number of columns (for descriptor matrices: the descriptor dimension).
    public let columns: Int
    /// The elements, row after row. Its count is always `rows * columns`.
    public var storage: [Float]

    /// A matrix with every element set to `repeating`.
    public init(rows: Int, columns: Int, repeating: Float = 0) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative")
        self.rows = rows
        self.columns = columns
        self.storage = [Float](repeating: repeating, count: rows * columns)
    }

    /// A matrix over existing row-major storage.
    /// - Precondition: `storage.count == rows * columns`.
    public init(rows: Int, columns: Int, storage: [Float]) {
        precondition(rows >= 0 && columns >= 0, "Matrix dimensions must be non-negative")
        precondition(storage.count == rows * columns,
                     "Matrix storage holds \(storage.count) elements, expected \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        self.storage = storage
    }

    /// A matrix whose rows are the given vectors.
    /// - Precondition: all vectors have the same length. An empty list gives a 0 × 0 matrix.
    public init(rowVectors: [[Float]]) {
        let columns = rowVectors.first?.count ?? 0
        var storage: [Float] = []
        storage.reserveCapacity(rowVectors.count * columns)
        for vector in rowVectors {
            precondition(vector.count == columns, "All row vectors must have length \(columns)")
            storage.append(contentsOf: vector)
        }
        self.init(rows: rowVectors.count, columns: columns, storage: storage)
    }

    /// Element at (`row`, `column`).
    @inlinable
    public subscript(row: Int, column: Int) -> Float {
        get {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
            return storage[row * columns + column]
        }
        set {
            precondition(row >= 0 && row < rows && column >= 0 && column < columns, "Matrix index out of range")
            storage[row * columns + column] = newValue
        }
    }

    /// A copy of row `index`.
    public func row(_ index: Int) -> [Float] {
        precondition(index >= 0 && index < rows, "Row \(index) out of range 0..<\(rows)")
        return Array(storage[index * columns ..< (index + 1) * columns])
    }

    /// The transpose, as a new row-major matrix.
    /// - Complexity: O(rows × columns).
    public func transposed() -> Matrix {
        var result = Matrix(rows: columns, columns: rows)
        let rows = self.rows, columns = self.columns
        storage.withUnsafeBufferPointer { source in
            result.storage.withUnsafeMutableBufferPointer { target in
                // Tiles keep both the reads and the writes within a few cache lines.
                let tile = 32
                for rowStart in stride(from: 0, to: rows, by: tile) {
                    let rowEnd = min(rowStart + tile, rows)
                    for columnStart in stride(from: 0, to: columns, by: tile) {
                        let columnEnd = min(columnStart + tile, columns)
                        for r in rowStart ..< rowEnd {
                            for c in columnStart ..< columnEnd {
                                target[c * rows + r] = source[r * columns + c]
                            }
                        }
                    }
                }
            }
        }
        return result
    }
}
