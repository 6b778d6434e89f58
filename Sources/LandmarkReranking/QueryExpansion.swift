import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra

/// α-weighted query expansion, αQE (METHODS.md §3): a query is replaced by the normalised sum of itself and
/// its top results, each weighted by its similarity raised to α, and searched again. The query's own
/// neighbourhood fills in what one photograph misses (other viewpoints, other lighting); the power α lets
/// near-duplicates dominate and keeps loosely related results from dragging the query away.
///
/// α = 0 is average query expansion: every neighbour gets weight exactly 1, whatever its similarity.
/// For α > 0 the weight of a neighbour with similarity s is max(0, s)^α, so a negatively correlated
/// result never pulls the query towards itself.
public struct QueryExpansion: Sendable, Equatable {
    /// How many top results are added to the query (k).
    public var neighbours: Int
    /// The exponent on the similarities (α).
    public var alpha: Float

    /// - Precondition: `neighbours >= 0`, `alpha >= 0`.
    public init(neighbours: Int = 2, alpha: Float = 3) {
        precondition(neighbours >= 0, "Query expansion needs a non-negative number of neighbours")
        precondition(alpha >= 0, "Query expansion needs a non-negative α")
        self.neighbours = neighbours
        self.alpha = alpha
    }

    /// One expanded, L2-normalised query per row of `queries`, from its top results `results[i]` (scores = qᵀx).
    /// Uses the first `neighbours` entries of each results list (fewer if the list is shorter).
    ///
    /// The weights come from the results' own scores, so the caller's search (on whatever database
    /// it ran) decides the similarities; `database` supplies the vectors the indices point to.
    /// A query whose expanded vector is exactly zero stays zero rather than becoming NaN.
    /// - Precondition: `results.count == queries.rows`, `queries.columns == database.columns`, every
    ///   index used is a row of `database`.
    /// - Complexity: O(queries × neighbours × dimension).
    public func expand(queries: Matrix, database: Matrix, results: [[Neighbor]]) -> Matrix {
        precondition(results.count == queries.rows,
                     "Query expansion got \(results.count) result lists for \(queries.rows) queries")
        precondition(queries.columns == database.columns,
                     "Queries have dimension \(queries.columns), the database \(database.columns)")
        var expanded = queries
        let dimension = queries.columns
        guard dimension > 0 else { return expanded }
        database.storage.withUnsafeBufferPointer { databaseBuffer in
            expanded.storage.withUnsafeMutableBufferPointer { output in
                guard let databaseBase = databaseBuffer.baseAddress, let outputBase = output.baseAddress else { return }
                for query in 0 ..< queries.rows {
                    let used = results[query].prefix(neighbours)
                    ExpansionKernel.addWeighted(used, alpha: alpha, database: databaseBase, rows: database.rows,
                                                dimension: dimension, into: outputBase + query * dimension)
                    ExpansionKernel.normalise(outputBase + query * dimension, dimension: dimension)
                }
            }
        }
        return expanded
    }
}

/// Database-side augmentation, DBA (METHODS.md §3): every database row is replaced by
/// L2N(x + Σ_{i≤k} w_i x_i) over its own top-k neighbours, itself excluded, with the weights of
/// ``QueryExpansion``. Done once at indexing time, it gives each image the benefit of query expansion
/// without any cost per query.
public struct DatabaseAugmentation: Sendable, Equatable {
    /// How many neighbours are added to each row (k), not counting the row itself.
    public var neighbours: Int
    /// The exponent on the similarities (α); 0 gives every neighbour weight 1.
    public var alpha: Float

    /// - Precondition: `neighbours >= 0`, `alpha >= 0`.
    public init(neighbours: Int = 2, alpha: Float = 3) {
        precondition(neighbours >= 0, "Database augmentation needs a non-negative number of neighbours")
        precondition(alpha >= 0, "Database augmentation needs a non-negative α")
        self.neighbours = neighbours
        self.alpha = alpha
    }

    /// Computes neighbours with ExactSearch (blocked; never a full n×n matrix) and returns the augmented database.
    ///
    /// Each row searches for k + 1 neighbours so that, after dropping itself, k remain. A row whose exact
    /// duplicate has a smaller index may not find itself among them (ties go to the smaller index); then
    /// the duplicate counts as one of its k neighbours and the last hit is dropped instead. All neighbours
    /// are taken from the original database, never from rows already augmented, so the result does not
    /// depend on row order.
    /// - Complexity: one exact search of the database against itself, O(n² × dimension) in BLAS, then
    ///   O(n × k × dimension).
    public func augment(_ database: Matrix) -> Matrix {
        guard neighbours > 0, database.rows > 1, database.columns > 0 else {
            return normalisedRows(database)
        }
        let results = ExactSearch(database: database).search(database, k: neighbours + 1)
        var augmented = database
        let dimension = database.columns
        database.storage.withUnsafeBufferPointer { databaseBuffer in
            augmented.storage.withUnsafeMutableBufferPointer { output in
                guard let databaseBase = databaseBuffer.baseAddress, let outputBase = output.baseAddress else { return }
                for row in 0 ..< database.rows {
                    var others = results[row].filter { $0.index != row }
                    if others.count > neighbours { others.removeLast(others.count - neighbours) }
                    ExpansionKernel.addWeighted(others[...], alpha: alpha, database: databaseBase, rows: database.rows,
                                                dimension: dimension, into: outputBase + row * dimension)
                    ExpansionKernel.normalise(outputBase + row * dimension, dimension: dimension)
                }
            }
        }
        return augmented
    }

    /// With no neighbours to add DBA is only the normalisation, kept so the output is always L2-normalised.
    private func normalisedRows(_ database: Matrix) -> Matrix {
        var result = database
        let dimension = database.columns
        guard dimension > 0 else { return result }
        result.storage.withUnsafeMutableBufferPointer { output in
            guard let base = output.baseAddress else { return }
            for row in 0 ..< database.rows { ExpansionKernel.normalise(base + row * dimension, dimension: dimension) }
        }
        return result
    }
}

/// The arithmetic shared by αQE and DBA, on raw row-major buffers.
enum ExpansionKernel {
    /// The weight of a neighbour with similarity `score`: exactly 1 for α = 0 (average QE, even for a
    /// negative similarity), max(0, s)^α otherwise.
    @inline(__always)
    static func weight(score: Float, alpha: Float) -> Float {
        alpha == 0 ? 1 : pow(max(0, score), alpha)
    }

    /// target += Σ weight(s_i) · database[i] over `neighbours`.
    static func addWeighted(_ neighbours: ArraySlice<Neighbor>, alpha: Float, database: UnsafePointer<Float>,
                            rows: Int, dimension: Int, into target: UnsafeMutablePointer<Float>) {
        for neighbour in neighbours {
            precondition(neighbour.index >= 0 && neighbour.index < rows,
                         "Result index \(neighbour.index) is not a database row (0..<\(rows))")
            let weight = weight(score: neighbour.score, alpha: alpha)
            guard weight != 0 else { continue }
            let source = database + neighbour.index * dimension
            for column in 0 ..< dimension { target[column] += weight * source[column] }
        }
    }

    /// Scales a vector to unit L2 norm; a zero vector stays zero.
    static func normalise(_ vector: UnsafeMutablePointer<Float>, dimension: Int) {
        var sumOfSquares: Double = 0
        for column in 0 ..< dimension { sumOfSquares += Double(vector[column]) * Double(vector[column]) }
        guard sumOfSquares > 0 else { return }
        let scale = Float(1 / sumOfSquares.squareRoot())
        for column in 0 ..< dimension { vector[column] *= scale }
    }
}
