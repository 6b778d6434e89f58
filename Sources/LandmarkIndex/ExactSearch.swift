import Dispatch
import Foundation
import LandmarkLinearAlgebra

/// Brute-force k-nearest-neighbour search by inner product.
///
/// The database is cut into blocks of rows; each block is scored against a batch of queries
/// with one sgemm into a scratch buffer, and every query's row of scores is folded into that
/// query's bounded top-k heap. The full queries × database score matrix never exists, so memory
/// stays at one block of scores however large the index. Because the heaps use a total order
/// (score, then index), the result is exactly that of a naive loop over all pairs, whatever the
/// block size or the order in which work finishes.
public struct ExactSearch: Sendable {
    /// How the work is spread over the cores.
    @_spi(Benchmarks) public enum Parallelism: Sendable {
        /// Blocks one after another, each scored by one sgemm that uses every BLAS thread; the
        /// heaps are then updated in parallel over queries. Only for benchmarks that give BLAS
        /// threads (`BLAS.setThreadCount`): the project runs BLAS single-threaded.
        case threadedBLAS
        /// One worker per core, each making single-threaded sgemm calls on its own blocks and
        /// keeping its own heaps, merged at the end: the default. Measured as fast as
        /// `threadedBLAS` with two BLAS threads on the 2-core machine (both ≈ 185 GFLOP/s at best
        /// on 100k × 2048, ≈ 90 % of bare sgemm).
        case blockWorkers
    }

    /// One descriptor per row; for cosine similarity the rows must be L2-normalised.
    public let database: DatabaseRows
    /// Database rows per sgemm block. 8192 measured best (4096 and 16384 were 10–40 % slower).
    @_spi(Benchmarks) public var blockRows: Int = 8192
    /// Queries per sgemm; bounds the scratch buffer at `queryBatch × blockRows` floats (32 MB).
    @_spi(Benchmarks) public var queryBatch: Int = 1024
    @_spi(Benchmarks) public var parallelism: Parallelism = .blockWorkers
    @_spi(Benchmarks) public var workerCount: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Search over `database`, whose rows are scored by inner product with each query.
    public init(database: Matrix) {
        self.database = DatabaseRows(database)
    }

    /// Search over rows read in place, e.g. a memory-mapped store (float16 rows are converted one
    /// block at a time, so the store is never expanded as a whole).
    public init(rows: DatabaseRows) {
        self.database = rows
    }

    /// The `k` highest-scoring database rows for each query row, best first, ties broken by
    /// the smaller index. `k` is clamped to the database size.
    /// - Precondition: `queries.columns == database.dimension`, `k >= 0`.
    /// - Complexity: O(queries × database × dimension) arithmetic, in BLAS.
    public func search(_ queries: Matrix, k: Int) -> [[Neighbor]] {
        precondition(queries.columns == database.dimension,
                     "Queries have dimension \(queries.columns), the database \(database.dimension)")
        precondition(k >= 0, "k must be non-negative")
        precondition(blockRows > 0 && queryBatch > 0 && workerCount > 0, "Block sizes must be positive")
        let k = min(k, database.count)
        guard queries.rows > 0 else { return [] }
        guard k > 0, database.dimension > 0 else { return Array(repeating: [], count: queries.rows) }
        switch parallelism {
        case .threadedBLAS: return searchWithThreadedBLAS(queries, k: k)
        case .blockWorkers: return searchWithBlockWorkers(queries, k: k)
        }
    }

    private var blockCount: Int { (database.count + blockRows - 1) / blockRows }

    private func searchWithThreadedBLAS(_ queries: Matrix, k: Int) -> [[Neighbor]] {
        var accumulators = [TopKAccumulator](repeating: TopKAccumulator(capacity: k), count: queries.rows)
        var scratch = [Float](repeating: 0, count: min(queryBatch, queries.rows) * min(blockRows, database.count))
        var converted: [Float] = []
        let foldWorkers = max(1, min(workerCount, queries.rows))
        accumulators.withUnsafeMutableBufferPointer { heaps in
            for block in 0 ..< blockCount {
                scoreBlock(block, queries: queries, scratch: &scratch, converted: &converted, heaps: heaps,
                           foldWorkers: foldWorkers)
            }
        }
        return accumulators.map { $0.sorted() }
    }

    private func searchWithBlockWorkers(_ queries: Matrix, k: Int) -> [[Neighbor]] {
        let workers = max(1, min(workerCount, blockCount))
        let slots = UnsafeMutableBufferPointer<[TopKAccumulator]>.allocate(capacity: workers)
        slots.initialize(repeating: [])
        defer { slots.deinitialize().deallocate() }
        let shared = SharedBuffer(buffer: slots)
        let worker: @Sendable (Int) -> Void = { workerIndex in
            var accumulators = [TopKAccumulator](repeating: TopKAccumulator(capacity: k), count: queries.rows)
            var scratch = [Float](repeating: 0, count: min(queryBatch, queries.rows) * min(blockRows, database.count))
            var converted: [Float] = []
            accumulators.withUnsafeMutableBufferPointer { heaps in
                for block in stride(from: workerIndex, to: blockCount, by: workers) {
                    scoreBlock(block, queries: queries, scratch: &scratch, converted: &converted, heaps: heaps,
                               foldWorkers: 1)
                }
            }
            shared.buffer[workerIndex] = accumulators
        }
        if workers == 1 {
            worker(0)
        } else {
            DispatchQueue.concurrentPerform(iterations: workers, execute: worker)
        }
        var merged = slots[0]
        for workerIndex in 1 ..< workers {
            for query in merged.indices { merged[query].merge(slots[workerIndex][query]) }
        }
        return merged.map { $0.sorted() }
    }

    /// Scores database block `block` against every query, batch by batch, and folds each
    /// query's scores into `heaps[query]`, split over `foldWorkers` threads by query.
    private func scoreBlock(_ block: Int, queries: Matrix, scratch: inout [Float], converted: inout [Float],
                            heaps: UnsafeMutableBufferPointer<TopKAccumulator>, foldWorkers: Int) {
        let dimension = database.dimension
        let blockStart = block * blockRows
        let blockCount = min(blockRows, database.count - blockStart)
        database.withFloat32Rows(blockStart ..< blockStart + blockCount, scratch: &converted) { databaseBase in
            queries.storage.withUnsafeBufferPointer { queryBuffer in
                scratch.withUnsafeMutableBufferPointer { scores in
                    guard let queryBase = queryBuffer.baseAddress, let scoreBase = scores.baseAddress else { return }
                    for batchStart in stride(from: 0, to: queries.rows, by: queryBatch) {
                        let batchCount = min(queryBatch, queries.rows - batchStart)
                        // scores (batch × block) = queries[batch] · database[block]ᵀ
                        BLAS.gemm(transposeA: false, transposeB: true, m: batchCount, n: blockCount, k: dimension,
                                  alpha: 1, a: queryBase + batchStart * dimension, lda: dimension,
                                  b: databaseBase, ldb: dimension,
                                  beta: 0, c: scoreBase, ldc: blockCount)
                        let fold = FoldJob(scores: UnsafePointer(scoreBase), heaps: heaps, rowLength: blockCount,
                                           firstIndex: blockStart, firstQuery: batchStart)
                        let workers = min(foldWorkers, batchCount)
                        if workers <= 1 {
                            fold.run(queries: 0 ..< batchCount)
                        } else {
                            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                                fold.run(queries: batchCount * worker / workers ..< batchCount * (worker + 1) / workers)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Folds rows of a score block into per-query heaps. Threads given disjoint query ranges touch
/// disjoint heaps and only read the scores, hence the unchecked sendability.
private struct FoldJob: @unchecked Sendable {
    let scores: UnsafePointer<Float>
    let heaps: UnsafeMutableBufferPointer<TopKAccumulator>
    let rowLength: Int
    let firstIndex: Int
    let firstQuery: Int

    func run(queries: Range<Int>) {
        for query in queries {
            heaps[firstQuery + query].add(UnsafeBufferPointer(start: scores + query * rowLength, count: rowLength),
                                          firstIndex: firstIndex)
        }
    }
}

/// Per-worker result slots; each worker writes only its own index.
private struct SharedBuffer<Element>: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Element>
}
