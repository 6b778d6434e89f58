import LandmarkLinearAlgebra
import LandmarkReranking
import Testing

@Suite struct QueryExpansionTests {
    // Unit vectors whose inner products are round numbers: x0·q = 0.8, x1·q = 0.6, x2·q = 0.
    let database = Matrix(rowVectors: [[0.8, 0.6, 0], [0.6, 0, 0.8], [0, 1, 0]])
    let queries = Matrix(rowVectors: [[1, 0, 0], [0, 0, 1]])
    let results = [
        [Neighbor(index: 0, score: 0.8), Neighbor(index: 1, score: 0.6), Neighbor(index: 2, score: 0)],
        [Neighbor(index: 1, score: 0.8), Neighbor(index: 2, score: -0.5)],
    ]

    @Test func averageQueryExpansionIsAlphaZero() {
        let expanded = QueryExpansion(neighbours: 2, alpha: 0).expand(queries: queries, database: database, results: results)
        #expect(expanded.rows == 2 && expanded.columns == 3)
        // q + x0 + x1 = (2.4, 0.6, 0.8), norm 2.6.
        expectClose(expanded.row(0), [12.0 / 13, 3.0 / 13, 4.0 / 13], tolerance: 1e-6)
        // Average QE gives weight 1 even to a negatively similar result: q + x1 + x2 = (0.6, 1, 1.8).
        expectClose(expanded.row(1), normalised([0.6, 1, 1.8]), tolerance: 1e-6)
    }

    @Test func alphaThreeWeightsByCubedSimilarityAndIgnoresNegativeOnes() {
        let expanded = QueryExpansion(neighbours: 2, alpha: 3).expand(queries: queries, database: database, results: results)
        let w0 = 0.8 * 0.8 * 0.8, w1 = 0.6 * 0.6 * 0.6
        expectClose(expanded.row(0), normalised([1 + w0 * 0.8 + w1 * 0.6, w0 * 0.6, w1 * 0.8]), tolerance: 1e-6)
        // x2 has similarity −0.5: weight max(0, −0.5)³ = 0.
        expectClose(expanded.row(1), normalised([w0 * 0.6, 0, 1 + w0 * 0.8]), tolerance: 1e-6)
    }

    @Test func moreNeighboursThanResultsUsesWhatThereIs() {
        let expansion = QueryExpansion(neighbours: 10, alpha: 3)
        let short = [Array(results[0].prefix(2)), results[1]]
        let expanded = expansion.expand(queries: queries, database: database, results: short)
        let reference = QueryExpansion(neighbours: 2, alpha: 3).expand(queries: queries, database: database, results: short)
        #expect(expanded == reference)
        // No results at all: the query only normalised.
        let alone = expansion.expand(queries: Matrix(rowVectors: [[3, 4, 0]]), database: database, results: [[]])
        expectClose(alone.row(0), [0.6, 0.8, 0], tolerance: 1e-7)
        // k = 0 is the identity on normalised queries.
        #expect(QueryExpansion(neighbours: 0).expand(queries: queries, database: database, results: results) == queries)
    }
}

@Suite struct DatabaseAugmentationTests {
    // Unit vectors on a quarter circle: x0·x1 = 0.8, x0·x2 = 0.6, x0·x3 = 0, x1·x2 = 0.96, x1·x3 = 0.6, x2·x3 = 0.8.
    let database = Matrix(rowVectors: [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]])
    let rows: [[Double]] = [[1, 0], [0.8, 0.6], [0.6, 0.8], [0, 1]]

    private func sum(_ terms: [(Double, Int)], plus row: Int) -> [Double] {
        var result = rows[row]
        for (weight, index) in terms { for c in 0 ..< 2 { result[c] += weight * rows[index][c] } }
        return normalised(result)
    }

    @Test func oneNeighbourAverageExcludesTheRowItself() {
        let augmented = DatabaseAugmentation(neighbours: 1, alpha: 0).augment(database)
        // Nearest other row: 0 → 1, 1 → 2, 2 → 1, 3 → 2.
        expectClose(augmented.row(0), sum([(1, 1)], plus: 0), tolerance: 1e-6)
        expectClose(augmented.row(1), sum([(1, 2)], plus: 1), tolerance: 1e-6)
        expectClose(augmented.row(2), sum([(1, 1)], plus: 2), tolerance: 1e-6)
        expectClose(augmented.row(3), sum([(1, 2)], plus: 3), tolerance: 1e-6)
    }

    @Test func twoNeighboursWithAlphaThreeUseTheOriginalRows() {
        let augmented = DatabaseAugmentation(neighbours: 2, alpha: 3).augment(database)
        func cube(_ s: Double) -> Double { s * s * s }
        expectClose(augmented.row(0), sum([(cube(0.8), 1), (cube(0.6), 2)], plus: 0), tolerance: 1e-6)
        expectClose(augmented.row(1), sum([(cube(0.96), 2), (cube(0.8), 0)], plus: 1), tolerance: 1e-6)
        expectClose(augmented.row(2), sum([(cube(0.96), 1), (cube(0.8), 3)], plus: 2), tolerance: 1e-6)
        expectClose(augmented.row(3), sum([(cube(0.8), 2), (cube(0.6), 1)], plus: 3), tolerance: 1e-6)
    }

    @Test func moreNeighboursThanRowsUsesAllOthers() {
        let augmented = DatabaseAugmentation(neighbours: 10, alpha: 0).augment(database)
        expectClose(augmented.row(0), sum([(1, 1), (1, 2), (1, 3)], plus: 0), tolerance: 1e-6)
        let single = DatabaseAugmentation().augment(Matrix(rowVectors: [[3, 4]]))
        expectClose(single.row(0), [0.6, 0.8], tolerance: 1e-7)
    }
}
