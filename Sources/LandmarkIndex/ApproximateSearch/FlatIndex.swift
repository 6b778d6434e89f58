import LandmarkLinearAlgebra

/// Exact search as a `VectorIndex`: every row scored, read in place from the store (float32, or
/// float16 converted block by block). The reference every approximate index is measured against.
public struct FlatIndex: VectorIndex {
    public let rows: DatabaseRows
    private let exact: ExactSearch

    public init(rows: DatabaseRows) {
        self.rows = rows
        exact = ExactSearch(rows: rows)
    }

    public var factory: IndexFactory { .flat(float16: rows.needsConversion) }
    public var dimension: Int { rows.dimension }
    public var count: Int { rows.count }

    /// `parameters.threads` bounds the cores (a Spark task given one core must not take two).
    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        guard let threads = parameters.threads else { return exact.search(queries, k: k) }
        var bounded = exact
        bounded.workerCount = max(1, threads)
        return bounded.search(queries, k: k)
    }
}
