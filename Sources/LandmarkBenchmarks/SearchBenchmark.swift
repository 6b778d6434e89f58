import Foundation
@_spi(Benchmarks) import LandmarkIndex
@_spi(Benchmarks) import LandmarkLinearAlgebra

/// Throughput of exact search, with the sgemm rate of the same shape for reference.
public struct SearchBenchmarkResult: Sendable, CustomStringConvertible {
    public let databaseCount: Int, dimension: Int, queryCount: Int, k: Int
    /// Best wall-clock time of one full search over all queries, in seconds.
    public let seconds: Double
    public var queriesPerSecond: Double { Double(queryCount) / seconds }
    /// 2·Q·N·D / time: the matrix-product work search must do, per second.
    public var effectiveGFLOPS: Double { 2 * Double(queryCount) * Double(databaseCount) * Double(dimension) / seconds / 1e9 }
    /// sgemm measured on one search block's shape, interleaved with the search runs so that
    /// both see the same load on a shared machine.
    public let matrixProduct: MatrixProductBenchmarkResult
    /// `effectiveGFLOPS / matrixProduct.bestGFLOPS`; the acceptance target is ≥ 0.8.
    public var peakRatio: Double { effectiveGFLOPS / matrixProduct.bestGFLOPS }

    public var description: String {
        String(format: "exact search %d × %d, %d queries, k = %d: %.1f queries/s, %.1f GFLOP/s effective = %.0f %% of the best sgemm rate, ",
               databaseCount, dimension, queryCount, k, queriesPerSecond, effectiveGFLOPS, 100 * peakRatio)
            + matrixProduct.description
    }
}

public enum SearchBenchmark {
    /// Builds a random L2-normalised database and queries, then alternately times
    /// `ExactSearch` and a bare sgemm of one search block (at 1 thread and at all threads),
    /// keeping the best of `repetitions` for each.
    public static func run(databaseCount: Int, dimension: Int, queryCount: Int, k: Int,
                           repetitions: Int = 5) -> SearchBenchmarkResult {
        var database = randomMatrix(rows: databaseCount, columns: dimension, seed: 11)
        database.normalizeRows()
        var queries = randomMatrix(rows: queryCount, columns: dimension, seed: 12)
        queries.normalizeRows()
        let search = ExactSearch(database: database)
        let operands = MatrixProductOperands(m: max(1, min(queryCount, search.queryBatch)),
                                             n: max(1, min(databaseCount, search.blockRows)), k: max(1, dimension))
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let previousThreadCount = BLAS.threadCount
        defer { BLAS.setThreadCount(previousThreadCount) }
        var fastest = Double.infinity, single = 0.0, all = 0.0
        for _ in 0 ..< max(1, repetitions) {
            single = max(single, operands.measureGFLOPS(threadCount: 1))
            all = max(all, operands.measureGFLOPS(threadCount: threads))
            BLAS.setThreadCount(threads)
            fastest = min(fastest, measure { _ = search.search(queries, k: k) })
        }
        let matrixProduct = MatrixProductBenchmarkResult(
            m: operands.m, n: operands.n, k: operands.k, backendDescription: BLAS.backendDescription,
            singleThreadGFLOPS: single, allThreadsGFLOPS: all, threadCount: threads)
        return SearchBenchmarkResult(databaseCount: databaseCount, dimension: dimension, queryCount: queryCount,
                                     k: k, seconds: fastest, matrixProduct: matrixProduct)
    }
}
