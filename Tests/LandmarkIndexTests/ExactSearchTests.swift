import Testing
@_spi(Benchmarks) import LandmarkIndex
import LandmarkLinearAlgebra

/// Deterministic generator (SplitMix64) so failures reproduce.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Reference: every inner product by a plain loop, sorted by (score desc, index asc).
private func naiveSearch(database: Matrix, queries: Matrix, k: Int) -> [[Neighbor]] {
    (0 ..< queries.rows).map { query in
        let scores = (0 ..< database.rows).map { row in
            Neighbor(index: row, score: (0 ..< database.columns).reduce(Float(0)) { $0 + queries[query, $1] * database[row, $1] })
        }
        return Array(scores.sorted { $0.score > $1.score || ($0.score == $1.score && $0.index < $1.index) }.prefix(k))
    }
}

/// Small integers make every inner product exact in Float (so BLAS and the loop agree to the
/// bit) and produce many duplicate scores, exercising the index tie-break.
private func integerMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    var generator = SeededGenerator(seed: seed)
    return Matrix(rows: rows, columns: columns, storage: (0 ..< rows * columns).map { _ in Float(Int.random(in: -2 ... 2, using: &generator)) })
}

private let configurations: [(ExactSearch.Parallelism, Int, Int)] = [
    (.threadedBLAS, 8192, 1024), (.threadedBLAS, 7, 3), (.blockWorkers, 7, 3), (.blockWorkers, 16, 64), (.blockWorkers, 1, 1),
]

@Test(arguments: [(50, 6, 9, 5), (37, 4, 5, 37), (23, 3, 4, 40), (100, 8, 1, 1), (1, 5, 3, 2)])
func exactSearchMatchesNaiveLoopWithTies(databaseCount: Int, dimension: Int, queryCount: Int, k: Int) {
    let database = integerMatrix(rows: databaseCount, columns: dimension, seed: UInt64(databaseCount))
    let queries = integerMatrix(rows: queryCount, columns: dimension, seed: UInt64(queryCount) + 1000)
    let expected = naiveSearch(database: database, queries: queries, k: min(k, databaseCount))
    for (parallelism, blockRows, queryBatch) in configurations {
        var search = ExactSearch(database: database)
        search.parallelism = parallelism
        search.blockRows = blockRows
        search.queryBatch = queryBatch
        #expect(search.search(queries, k: k) == expected, "\(parallelism) block \(blockRows) batch \(queryBatch)")
    }
}

@Test func exactSearchMatchesNaiveLoopOnNormalisedRandomData() {
    var generator = SeededGenerator(seed: 7)
    var database = Matrix(rows: 300, columns: 32, storage: (0 ..< 300 * 32).map { _ in Float.random(in: -1 ... 1, using: &generator) })
    database.normalizeRows()
    var queries = Matrix(rows: 12, columns: 32, storage: (0 ..< 12 * 32).map { _ in Float.random(in: -1 ... 1, using: &generator) })
    queries.normalizeRows()
    let expected = naiveSearch(database: database, queries: queries, k: 10)
    for (parallelism, blockRows, queryBatch) in configurations {
        var search = ExactSearch(database: database)
        search.parallelism = parallelism
        search.blockRows = blockRows
        search.queryBatch = queryBatch
        let actual = search.search(queries, k: 10)
        // BLAS sums in another order than the loop, so scores agree to rounding only.
        #expect(actual.map { $0.map(\.index) } == expected.map { $0.map(\.index) })
        for (found, reference) in zip(actual.joined(), expected.joined()) { #expect(abs(found.score - reference.score) <= 1e-5) }
    }
}

@Test func exactSearchDegenerateInputs() {
    let database = integerMatrix(rows: 4, columns: 3, seed: 1)
    let search = ExactSearch(database: database)
    #expect(search.search(Matrix(rows: 0, columns: 3), k: 2).isEmpty)
    #expect(search.search(integerMatrix(rows: 2, columns: 3, seed: 2), k: 0) == [[], []])
    #expect(ExactSearch(database: Matrix(rows: 0, columns: 3)).search(integerMatrix(rows: 2, columns: 3, seed: 2), k: 5) == [[], []])
}
