import Foundation
import Testing
@testable import LandmarkEvaluation

/// Produced by scripts/fixtures/evaluation_make_fixtures.py from revisitop's compute_map / compute_ap.
private struct RevisitedFixture: Decodable {
    struct Query: Decodable { var easy: [Int]; var hard: [Int]; var junk: [Int]; var ranking: [Int] }
    struct Result: Decodable { var map: Double; var aps: [Double?]; var mpr: [Double]; var prs: [[Double?]]; var evaluated: Int }
    struct Case: Decodable {
        var name: String
        var kappas: [Int]
        var queries: [Query]
        var allowUnrankedPositives: Bool
        var results: [String: Result]
    }
    struct APCase: Decodable { var ranks: [Int]; var positiveCount: Int; var ap: Double }
    var cases: [Case]
    var averagePrecision: [APCase]
}

private func groundTruth(_ query: RevisitedFixture.Query, _ setup: RevisitedProtocol) -> QueryGroundTruth {
    RevisitedDataset(name: "fixture", imageNames: [], queryNames: [],
                     queries: [RevisitedQuery(boundingBox: (0, 0, 1, 1), easy: query.easy, hard: query.hard, junk: query.junk)],
                     directory: URL(fileURLWithPath: "/")).groundTruth(setup)[0]
}

@Suite struct RetrievalMetricsTests {
    @Test func averagePrecisionMatchesReference() throws {
        let fixture = try Fixtures.decode(RevisitedFixture.self, from: "evaluation_revisited_metrics.json")
        #expect(fixture.averagePrecision.count == 40)
        for item in fixture.averagePrecision {
            let ap = RetrievalMetrics.averagePrecision(positiveRanks: item.ranks, positiveCount: item.positiveCount)
            #expect(close(ap, item.ap), "ranks \(item.ranks) of \(item.positiveCount): \(ap) vs \(item.ap)")
        }
    }

    @Test(arguments: RevisitedProtocol.allCases)
    func evaluateMatchesReference(setup: RevisitedProtocol) throws {
        let fixture = try Fixtures.decode(RevisitedFixture.self, from: "evaluation_revisited_metrics.json")
        #expect(fixture.cases.count == 6)
        var sawEmptyQuery = false, sawTruncated = false, sawJunk = false
        for testCase in fixture.cases {
            let reference = try #require(testCase.results[setup.rawValue])
            let truths = testCase.queries.map { groundTruth($0, setup) }
            let rankings = testCase.queries.map(\.ranking)
            let kappas = testCase.allowUnrankedPositives ? [] : testCase.kappas
            let scores = RetrievalMetrics.evaluate(rankings: rankings, groundTruth: truths, kappas: kappas)
            #expect(close(scores.meanAveragePrecision, reference.map), "\(testCase.name) mAP")
            #expect(scores.evaluatedQueryCount == reference.evaluated)
            #expect(scores.averagePrecisions.count == reference.aps.count)
            for (q, (ap, expected)) in zip(scores.averagePrecisions, reference.aps).enumerated() {
                #expect(close(ap, expected), "\(testCase.name) query \(q): \(ap) vs \(String(describing: expected))")
            }
            for (j, k) in kappas.enumerated() {
                #expect(close(scores.meanPrecisionAtK[k] ?? .nan, reference.mpr[j]), "\(testCase.name) mP@\(k)")
                for (q, row) in scores.precisionsAtK.enumerated() {
                    #expect(close(row[j], reference.prs[q][j]), "\(testCase.name) query \(q) P@\(k)")
                }
            }
            sawEmptyQuery = sawEmptyQuery || reference.aps.contains { $0 == nil }
            sawTruncated = sawTruncated || testCase.queries.contains { $0.ranking.count < 15 }
            sawJunk = sawJunk || truths.contains { !$0.junk.isEmpty }
        }
        // The fixture must exercise what the acceptance criterion names.
        #expect(sawEmptyQuery && sawTruncated && sawJunk)
    }

    @Test func junkIsRemovedBeforeCounting() {
        // Ranking: junk, positive, negative, junk, positive → positions after removal 0 and 2.
        let truth = QueryGroundTruth(positives: [1, 4], junk: [0, 3])
        let scores = RetrievalMetrics.evaluate(rankings: [[0, 1, 2, 3, 4]], groundTruth: [truth], kappas: [1, 2, 5])
        let expectedAP = ((1.0 + 1.0) / 2 + (0.5 + 2.0 / 3.0) / 2) / 2
        #expect(abs(scores.averagePrecisions[0] - expectedAP) < 1e-12)
        #expect(scores.precisionsAtK[0] == [1.0, 0.5, 2.0 / 3.0]) // k=5 is cut at the last positive (3)
        #expect(RetrievalMetrics.positiveRanksAfterJunkRemoval(ranking: [0, 1, 2, 3, 4], groundTruth: truth) == [0, 2])
    }

    @Test func queriesWithoutPositivesAreSkipped() {
        let scores = RetrievalMetrics.evaluate(
            rankings: [[0, 1, 2], [2, 1, 0]],
            groundTruth: [QueryGroundTruth(positives: [], junk: [1]), QueryGroundTruth(positives: [0])], kappas: [1])
        #expect(scores.averagePrecisions[0].isNaN && scores.precisionsAtK[0][0].isNaN)
        #expect(scores.evaluatedQueryCount == 1)
        #expect(abs(scores.meanAveragePrecision - scores.averagePrecisions[1]) < 1e-15)
        let none = RetrievalMetrics.evaluate(rankings: [[0]], groundTruth: [QueryGroundTruth(positives: [])])
        #expect(none.meanAveragePrecision.isNaN && none.evaluatedQueryCount == 0)
    }

    @Test func positivesMissingFromATruncatedRankingCountInRecall() {
        let truncated = RetrievalMetrics.evaluate(rankings: [[5, 7]], groundTruth: [QueryGroundTruth(positives: [5, 9])],
                                                  kappas: [1, 10])
        #expect(truncated.averagePrecisions[0] == 0.5)
        #expect(truncated.precisionsAtK[0] == [1, 1])
        // No positive ranked at all: AP 0 and, where the reference is undefined, precision 0.
        let missing = RetrievalMetrics.evaluate(rankings: [[1, 2]], groundTruth: [QueryGroundTruth(positives: [3])])
        #expect(missing.averagePrecisions[0] == 0 && missing.precisionsAtK[0] == [0, 0, 0])
        #expect(missing.meanPrecisionAtK == [1: 0, 5: 0, 10: 0])
    }
}
