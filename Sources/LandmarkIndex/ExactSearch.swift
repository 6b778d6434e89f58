import Dispatch
import Foundation
import LandmarkLinearAlgebra

/// Brute-force k-nearest-neighbour search by inner product.
///
/// The database is cut into blocks of rows; each block is scored against a batch of queries
/// with one sgemm into a scratch buffer, and every query's row of scores is folded into that
/// query's bounded top-k heap. The full queries × database score matrix never exists, so memory
/// stays at one block of scores per worker however large the index. Because the heaps use a
/// total order (score, then index), the result is exactly that of a naive loop over all pairs,
/// whatever the block size or the order in which workers finish.
public struct ExactSearch: Sendable {
    /// How blocks are spread over the cores. Measured on the 2-core AVX-512 machine (see the
    /// benchmark notes in the report): both reach the same sgemm rate on large blocks.
    @_spi(Benchmarks) public enum Parallelism: Sendable {
        /// One worker per core, each with single-threaded BLAS calls on its own blocks.
        case blockWorkers
        /// Blocks one after another, each one sgemm using every BLAS thread.
        case threadedBLAS
    }

    /// One descriptor per row; for cosine similarity the rows must be L2-normalised.
    public let database: Matrix
    /// Database rows per sgemm block.
    @_spi(Benchmarks) public var blockRows: Int = 8192
    /// Queries per sgemm; bounds the scratch buffer at `queryBatch × blockRows` floats.
    @_spi(Benchmarks) public var queryBatch: Int = 1024
    @_spi(Benchmarks) public var parallelism: Parallelism = .threadedBLAS
    @_spi(Benchmarks) public var workerCount: Int = ProcessInfo.processInfo.activeProcessorCount

    /// Search over `database`, whose rows are scored by inner product with each query.
    public init(database: Matrix) {
        self.database = database
    }

    /// The `k` highest-scoring database rows for each query row, best first, ties broken by
    /// the smaller index. `k` is clamped to the database size.
    /// - Precondition: `queries.columns == database.columns`, `k >= 0`.
    public func search(_ queries: Matrix, k: Int) -> [[Neighbor]] {
        precondition(queries.columns == database.columns,
                     "Queries have dimension \(queries.columns), the database \(database.columns)")
        precondition(k >= 0, "k must be non-negative")
        let k = min(k, database.rows)
        guard queries.rows > 0 else { return [] }
        guard k > 0, database.columns > 0 else { return Array(repeating: [], count: queries.rows) }

        let blockCount = (database.rows + blockRows - 1) / blockRows
        let workers = parallelism == .blockWorkers ? max(1, min(workerCount, blockCount)) : 1
        let slots = UnsafeMutableBufferPointer<[TopKAccumulator]>.allocate(capacity: workers)
        slots.initialize(repeating: [])
        defer { slots.deinitialize().deallocate() }
        let shared = SharedSlots(slots: slots)

        let worker: @Sendable (Int) -> Void = { workerIndex in
            var accumulators = [TopKAccumulator](repeating: TopKAccumulator(capacity: k), count: queries.rows)
            var scratch = [Float](repeating: 0, count: min(queryBatch, queries.rows) * min(blockRows, database.rows))
            for block in stride(from: workerIndex, to: blockCount, by: workers) {
                scoreBlock(block, queries: queries, scratch: &scratch, accumulators: &accumulators)
            }
            shared.slots[workerIndex] = accumulators
        }
        if workers == 1 {
            worker(0)
        } else {
            // The threaded BLAS would otherwise oversubscribe the cores the workers already use.
            BLAS.setThreadCount(1)
            DispatchQueue.concurrentPerform(iterations: workers, execute: worker)
            BLAS.setThreadCount(ProcessInfo.processInfo.activeProcessorCount)
        }

        var merged = slots[0]
        for workerIndex in 1 ..< workers {
            for query in merged.indices { merged[query].merge(slots[workerIndex][query]) }
        }
        return merged.map { $0.sorted() }
    }

    private func scoreBlock(_ block: Int, queries: Matrix, scratch: inout [Float],
                            accumulators: inout [TopKAccumulator]) {
        let dimension = database.columns
        let blockStart = block * blockRows
        let blockCount = min(blockRows, database.rows - blockStart)
        database.storage.withUnsafeBufferPointer { databaseBuffer in
            queries.storage.withUnsafeBufferPointer { queryBuffer in
                scratch.withUnsafeMutableBufferPointer { scores in
                    guard let databaseBase = databaseBuffer.baseAddress, let queryBase = queryBuffer.baseAddress,
                          let scoreBase = scores.baseAddress else { return }
                    for batchStart in stride(from: 0, to: queries.rows, by: queryBatch) {
                        let batchCount = min(queryBatch, queries.rows - batchStart)
                        // scores (batch × block) = queries[batch] · database[block]ᵀ
                        BLAS.gemm(transposeA: false, transposeB: true, m: batchCount, n: blockCount, k: dimension,
                                  alpha: 1, a: queryBase + batchStart * dimension, lda: dimension,
                                  b: databaseBase + blockStart * dimension, ldb: dimension,
                                  beta: 0, c: scoreBase, ldc: blockCount)
                        for query in 0 ..< batchCount {
                            let row = UnsafeBufferPointer(start: scoreBase + query * blockCount, count: blockCount)
                            accumulators[batchStart + query].add(row, firstIndex: blockStart)
                        }
                    }
                }
            }
        }
    }
}

/// Per-worker result slots; each worker writes only its own index, so no two threads touch
/// the same element.
private struct SharedSlots: @unchecked Sendable {
    let slots: UnsafeMutableBufferPointer<[TopKAccumulator]>
}
