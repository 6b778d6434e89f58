import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra

/// Throughput of exact search, with the sgemm rate of the same shape for reference.
public struct SearchBenchmarkResult: Sendable, CustomStringConvertible {
    public let databaseCount: Int, dimension: Int, queryCount: Int, k: Int
    /// Best wall-clock time of one full search over all queries, in seconds.
    public let seconds: Double
    public var queriesPerSecond: Double { Double(queryCount) / seconds }
    /// 2·Q·N·D / time: the matrix-product work search must do, per second.
    public var effectiveGFLOPS: Double { 2 * Double(queryCount) * Double(databaseCount) * Double(dimension) / seconds / 1e9 }
    /// The best sgemm rate measured on one search block's shape.
    public let matrixProduct: MatrixProductBenchmarkResult
    /// `effectiveGFLOPS / matrixProduct.bestGFLOPS`; the acceptance target is ≥ 0.8.
    public var peakRatio: Double { effectiveGFLOPS / matrixProduct.bestGFLOPS }

    public var description: String {
        String(format: "exact search %d × %d, %d queries, k = %d: %.1f queries/s, %.1f GFLOP/s effective, %.0f %% of peak sgemm (%.1f GFLOP/s)",
               databaseCount, dimension, queryCount, k, queriesPerSecond, effectiveGFLOPS, 100 * peakRatio,
               matrixProduct.bestGFLOPS)
    }
}

public enum SearchBenchmark {
    /// Builds a random L2-normalised database and queries, then times `ExactSearch` (best of
    /// `repetitions`) and sgemm on the same block shape.
    public static func run(databaseCount: Int, dimension: Int, queryCount: Int, k: Int,
                           repetitions: Int = 3) -> SearchBenchmarkResult {
        var database = randomMatrix(rows: databaseCount, columns: dimension, seed: 11)
        database.normalizeRows()
        var queries = randomMatrix(rows: queryCount, columns: dimension, seed: 12)
        queries.normalizeRows()
        let search = ExactSearch(database: database)
        let matrixProduct = MatrixProductBenchmark.run(
            m: min(queryCount, 1024), n: min(databaseCount, 8192), k: dimension, repetitions: repetitions)
        BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        var fastest = Double.infinity
        for _ in 0 ..< max(1, repetitions) {
            fastest = min(fastest, measure { _ = search.search(queries, k: k) })
        }
        return SearchBenchmarkResult(databaseCount: databaseCount, dimension: dimension, queryCount: queryCount,
                                     k: k, seconds: fastest, matrixProduct: matrixProduct)
    }
}
