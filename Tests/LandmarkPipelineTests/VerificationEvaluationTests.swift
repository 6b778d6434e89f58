import Foundation
import LandmarkEvaluation
import LandmarkPipeline
import Testing

@Suite struct VerificationEvaluationTests {
    @Test func everyUnorderedPairIsLabelledByLandmarkAndDistractorsAreNegative() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        _ = try makeSyntheticDataset(in: temporary.url, landmarks: 2, views: 2, distractors: 2)
        let benchmark = try FolderBenchmark.load(temporary.url)
        #expect(benchmark.images.count == 6)
        // One unreadable distractor: reported, its pairs score 0, nothing else changes.
        let broken = try #require(benchmark.labels.firstIndex { $0 == nil })
        try Data("not an image".utf8).write(to: benchmark.imageURL(broken))

        let report = VerificationEvaluation().evaluate(benchmark)
        #expect(report.pairCount == 15)
        #expect(report.pairs.map { [$0.first, $0.second] } == (0..<6).flatMap { a in (a + 1..<6).map { [a, $0] } })
        for pair in report.pairs {
            let sameLandmark = benchmark.labels[pair.first] != nil && benchmark.labels[pair.first] == benchmark.labels[pair.second]
            #expect(pair.positive == sameLandmark)
            #expect(pair.inliers >= 0)
            if pair.first == broken || pair.second == broken { #expect(pair.inliers == 0) }
        }
        #expect(report.positives == 2)
        #expect(report.negatives == 13)
        #expect(report.skipped.map(\.image) == [benchmark.images[broken]])
        #expect(report.areaUnderROC >= 0 && report.areaUnderROC <= 1)
        let positiveMean = Double(report.pairs.filter(\.positive).map(\.inliers).reduce(0, +)) / 2
        #expect(abs(report.meanInliersPositive - positiveMean) < 1e-9)

        let pairsFile = temporary.path("pairs.tsv")
        try VerificationEvaluation.writePairs(report, images: benchmark.images, to: pairsFile)
        let lines = try String(contentsOf: pairsFile, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 15)
        let first = lines[0].split(separator: "\t", omittingEmptySubsequences: false)
        #expect(first.count == 6)
        #expect(first[0] == Substring(benchmark.images[0]) && first[1] == Substring(benchmark.images[1]))
        #expect(first[2] == (report.pairs[0].positive ? "1" : "0"))
        #expect(first[3] == Substring(String(report.pairs[0].inliers)))
        #expect(first[4] == Substring(String(report.pairs[0].matches)))
        // Inliers never outnumber the tentative matches they come from; the spread is a fraction.
        for pair in report.pairs {
            #expect(pair.inliers <= pair.matches)
            #expect((0 ... 1).contains(pair.spread))
        }
    }

    @Test func evaluateTaskVerificationPrintsTheSummaryAndWritesThePairList() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 2, views: 2, distractors: 1)
        let pairsURL = temporary.path("pairs.tsv")
        let result = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "verification",
                                                  "--json", "--quiet", "--pairs-out", pairsURL.path])
        #expect(result.status == 0, "\(result.error)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        #expect(object?["pairs"] as? Int == 10)
        #expect(object?["positives"] as? Int == 2)
        #expect(object?["negatives"] as? Int == 8)
        #expect(object?["auc"] is Double)
        let lines = try String(contentsOf: pairsURL, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 10)
        #expect(lines.filter { $0.split(separator: "\t")[2] == "1" }.count == 2)

        let wrong = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "nonsense"])
        #expect(wrong.status != 0)
    }
}
