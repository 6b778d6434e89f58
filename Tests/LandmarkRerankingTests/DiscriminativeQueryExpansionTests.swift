import Foundation
import LandmarkLinearAlgebra
@testable import LandmarkReranking
import Testing

@Suite struct DiscriminativeQueryExpansionTests {
    /// Dimensions: 0 = what every bright outdoor photo shares, 1 = the landmark's own structure,
    /// 2 = the clutter of unrelated images, 3 = noise. Hard negatives look more like the query than the
    /// true positives do (more of dimension 0), but carry clutter; the tail is mostly clutter.
    struct Scene {
        let query: [Float] = normalisedFloat([1, 0.25, 0, 0])
        let database: Matrix
        let truePositives = [0, 1, 2, 3]
        let hardNegatives = [4, 5, 6, 7]
        let ranking: [Int]

        init() {
            var rows: [[Float]] = []
            for i in 0 ..< 4 { rows.append(normalisedFloat([0.6, 0.5, 0.05 * Double(i), 0.02 * Double(i)])) }
            for i in 0 ..< 4 { rows.append(normalisedFloat([0.9, 0, 0.3, 0.05 * Double(i)])) }
            for j in 0 ..< 300 { rows.append(normalisedFloat([0.3 + 0.001 * Double(j), 0, 0.8, 0.3 * sin(Double(j))])) }
            let database = Matrix(rowVectors: rows)
            let query = normalisedFloat([1, 0.25, 0, 0])
            let similarities = (0 ..< database.rows).map { row in
                zip(query, database.row(row)).reduce(Float(0)) { $0 + $1.0 * $1.1 }
            }
            self.database = database
            ranking = similarities.indices.sorted { similarities[$0] != similarities[$1] ? similarities[$0] > similarities[$1] : $0 < $1 }
        }
    }

    @Test func theClassifierMovesTruePositivesAheadOfHardNegatives() {
        let scene = Scene()
        // By similarity the hard negatives come first: the case DQE is for.
        #expect(Array(scene.ranking.prefix(8)) == scene.hardNegatives + scene.truePositives)
        let dqe = DiscriminativeQueryExpansion(depth: 10, negatives: 100)
        let reranked = dqe.rerank(query: scene.query, database: scene.database, ranking: scene.ranking, positives: [3])
        #expect(Set(reranked.prefix(10)) == Set(scene.ranking.prefix(10)))
        #expect(Array(reranked.prefix(4)).sorted() == scene.truePositives)
        #expect(Array(reranked[4 ..< 8]).sorted() == scene.hardNegatives)
        #expect(reranked.dropFirst(10) == scene.ranking.dropFirst(10))
        #expect(dqe.rerank(query: scene.query, database: scene.database, ranking: scene.ranking, positives: [3]) == reranked)
    }

    @Test func withNothingVerifiedTheRankingIsUnchanged() {
        let scene = Scene()
        let dqe = DiscriminativeQueryExpansion(depth: 10, negatives: 100)
        // The old fallback took the top three (here hard negatives) as positives and learnt the wrong landmark.
        #expect(dqe.rerank(query: scene.query, database: scene.database, ranking: scene.ranking, positives: []) == scene.ranking)
    }

    @Test func verifiedResultsStayAheadOfUnverifiedOnes() {
        let scene = Scene()
        let dqe = DiscriminativeQueryExpansion(depth: 10, negatives: 100)
        // A hard negative that verification accepted (a wrong match) is still first: the classifier orders
        // the groups, it does not overrule verification.
        let reranked = dqe.rerank(query: scene.query, database: scene.database, ranking: scene.ranking, positives: [3, 5])
        #expect(Set(reranked.prefix(2)) == [3, 5])
        #expect(reranked.dropFirst(10) == scene.ranking.dropFirst(10))
    }

    @Test func negativesComeFromFarDownOrOutsideAShortRankingAndNeverArePositives() {
        let dqe = DiscriminativeQueryExpansion(negativesFrom: 4, negatives: 3)
        #expect(dqe.chooseNegatives(Array(0 ..< 10), databaseRows: 10, excluding: []) == [4, 6, 8])
        #expect(dqe.chooseNegatives(Array(0 ..< 10), databaseRows: 10, excluding: [4]) == [5, 6, 8])
        #expect(dqe.chooseNegatives(Array(0 ..< 6), databaseRows: 6, excluding: []) == [4, 5])
        // The whole of a small index, too short to reach position 4: its bottom half.
        #expect(dqe.chooseNegatives([3, 2, 1, 0], databaseRows: 4, excluding: []) == [1, 0])
        #expect(dqe.chooseNegatives([0], databaseRows: 1, excluding: []) == [0])
        // A ranking cut short in a larger index: rows it never reached, not its head or bottom half.
        #expect(dqe.chooseNegatives([0, 1, 2, 3], databaseRows: 10, excluding: [8]) == [4, 5, 7])
        // Too few rows outside (here only the query's own, excluded): the bottom half makes up the rest.
        #expect(dqe.chooseNegatives([3, 2, 1, 0], databaseRows: 5, excluding: [4]) == [1, 0])
        #expect(dqe.chooseNegatives([0, 1, 2, 3], databaseRows: 6, excluding: [5]) == [4, 2, 3])
        let sample = DiscriminativeQueryExpansion(negativesFrom: 200, negatives: 50)
            .chooseNegatives(Array(0 ..< 100), databaseRows: 10_000, excluding: [7_000])
        #expect(sample.count == 50)
        #expect(sample.allSatisfy { $0 >= 100 && $0 != 7_000 })
        #expect(sample == DiscriminativeQueryExpansion(negativesFrom: 200, negatives: 50)
            .chooseNegatives(Array(0 ..< 100), databaseRows: 10_000, excluding: [7_000]))
        #expect(DiscriminativeQueryExpansion(negatives: 0).chooseNegatives(Array(0 ..< 300), databaseRows: 300, excluding: []) == [])
    }

    @Test func withoutNegativesTheRankingIsReturnedUnchanged() {
        let scene = Scene()
        let dqe = DiscriminativeQueryExpansion(depth: 10)
        // The ranking is the whole of a four-image index and its bottom half holds only positives.
        let small = Matrix(rows: 4, columns: 4, storage: Array(scene.database.storage.prefix(16)))
        let ranking = [2, 0, 1, 3]
        #expect(dqe.rerank(query: scene.query, database: small, ranking: ranking, positives: [1, 3]) == ranking)
        #expect(DiscriminativeQueryExpansion(negatives: 0).rerank(query: scene.query, database: scene.database,
                                                                  ranking: scene.ranking, positives: [3]) == scene.ranking)
        #expect(dqe.rerank(query: scene.query, database: scene.database, ranking: [], positives: []) == [])
    }
}
