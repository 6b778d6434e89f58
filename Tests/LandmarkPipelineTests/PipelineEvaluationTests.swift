import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkImage
import LandmarkLinearAlgebra
@testable import LandmarkPipeline
import LandmarkRecognition
import Testing

/// Pipelines, ablations and leave-one-out recognition on a synthetic folder benchmark, with the weight-free
/// baseline descriptor so that nothing needs network weights.
@Suite(.serialized) struct PipelineEvaluationTests {
    static let stages: [PipelineDescription.Stage] = [
        .queryExpansion(neighbours: 2, alpha: 3), .queryExpansion(neighbours: 3, alpha: 0),
        .databaseAugmentation(neighbours: 2, alpha: 3),
    ]

    /// 4 landmarks × 4 views and 4 distractors: 20 images, 16 queries with 3 positives each.
    static func prepared(_ temporary: TemporaryDirectory, localFeatures: Bool = false) throws -> PreparedFolderBenchmark {
        let directory = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: directory, landmarks: 4, views: 4, distractors: 4)
        let benchmark = try FolderBenchmark.load(directory)
        return PipelineEvaluation(extraction: DescriptorExtraction(extractor: GradientColourHistogramBaseline()))
            .prepare(benchmark, localFeatures: localFeatures)
    }

    static var evaluation: PipelineEvaluation {
        PipelineEvaluation(extraction: DescriptorExtraction(extractor: GradientColourHistogramBaseline()))
    }

    /// Every query's ranking holds every other image exactly once and never the query itself.
    static func expectFullRankings(_ report: PipelineReport, _ benchmark: FolderBenchmark) {
        #expect(report.rankings.count == benchmark.queryIndices.count)
        #expect(Set(report.rankings.map(\.query)) == Set(benchmark.queryIndices.map { benchmark.images[$0] }))
        for ranking in report.rankings {
            #expect(ranking.ranking.count == benchmark.images.count - 1, "query \(ranking.query)")
            #expect(Set(ranking.ranking).count == ranking.ranking.count, "query \(ranking.query) has duplicates")
            #expect(Set(ranking.ranking) == Set(benchmark.images).subtracting([ranking.query]), "query \(ranking.query)")
        }
    }

    @Test func globalStagesGiveFullRankingsAndBoundedFigures() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let prepared = try Self.prepared(temporary)
        #expect(prepared.skipped.isEmpty)
        #expect(prepared.database.rows == 20)
        #expect(prepared.localFeatures.isEmpty)

        let pipeline = PipelineDescription(retrieval: .descriptorOptions, stages: Self.stages)
        let report = try Self.evaluation.evaluate(prepared, pipeline: pipeline)
        Self.expectFullRankings(report, prepared.benchmark)
        #expect(report.retrieval.queries == 16)
        #expect((0...1).contains(report.retrieval.meanAveragePrecision))
        for (_, precision) in report.retrieval.meanPrecisionAt { #expect((0...1).contains(precision)) }
        #expect(report.timings.map(\.stage) == ["search", "aqe2", "qe3", "dba2"])
        #expect(report.pipeline == "\(GradientColourHistogramBaseline.name),aqe2,qe3,dba2")
        // Three positives among 19 images: a random ranking scores about 0.2.
        #expect(report.retrieval.meanAveragePrecision > 0.3)

        // The figures are those recomputed from the named rankings.
        let benchmark = prepared.benchmark
        let position = Dictionary(uniqueKeysWithValues: benchmark.images.enumerated().map { ($1, $0) })
        let recomputed = RetrievalMetrics.evaluate(
            rankings: report.rankings.map { $0.ranking.compactMap { position[$0] } },
            groundTruth: report.rankings.compactMap { position[$0.query] }.map { benchmark.groundTruth(forQuery: $0) })
        #expect(abs(recomputed.meanAveragePrecision - report.retrieval.meanAveragePrecision) < 1e-9)
    }

    @Test func ablationHasOneReportPerStagePrefix() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let prepared = try Self.prepared(temporary)
        let pipeline = PipelineDescription(retrieval: .descriptorOptions, stages: Self.stages)
        let reports = try Self.evaluation.ablation(prepared, pipeline: pipeline)
        #expect(reports.count == Self.stages.count + 1)
        for report in reports { Self.expectFullRankings(report, prepared.benchmark) }

        // The first row is the plain search and the last the whole pipeline, as evaluated on their own.
        let plain = try Self.evaluation.evaluate(prepared, pipeline: PipelineDescription())
        let whole = try Self.evaluation.evaluate(prepared, pipeline: pipeline)
        #expect(reports.first?.retrieval.meanAveragePrecision == plain.retrieval.meanAveragePrecision)
        #expect(reports.first?.rankings == plain.rankings)
        #expect(reports.last?.retrieval.meanAveragePrecision == whole.retrieval.meanAveragePrecision)
        #expect(reports.last?.rankings == whole.rankings)

        let table = AblationTable(dataset: "synthetic", reports: reports)
        #expect(table.rows.map(\.stage) == ["search", "aqe2", "qe3", "dba2"])
        let name = GradientColourHistogramBaseline.name
        #expect(table.rows.map(\.pipeline) == [name, "\(name),aqe2", "\(name),aqe2,qe3", "\(name),aqe2,qe3,dba2"])
        for row in table.rows {
            #expect((0...1).contains(row.meanAveragePrecision))
            #expect((0...1).contains(row.meanPrecisionAt10))
            #expect(row.secondsPerQuery >= 0)
        }

        let files = try table.write(prefix: temporary.path("ablation"))
        let csvLines = try String(contentsOf: files.csv, encoding: .utf8).split(separator: "\n")
        #expect(csvLines.count == 1 + reports.count)
        #expect(csvLines.first == "stage,pipeline,mAP,mP@10,seconds_per_query")
        #expect(csvLines.dropFirst().map { String($0.prefix { $0 != "," }) } == ["search", "aqe2", "qe3", "dba2"])
        let chart = table.chart()
        let decoded = try ImageDecoder.decode(contentsOf: files.png)
        #expect(decoded.width == chart.width)
        #expect(decoded.height == chart.height)
    }

    @Test func stagesWithoutTheirInputsAreRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let prepared = try Self.prepared(temporary)
        // No local features were extracted.
        #expect(throws: PipelineError.self) {
            try Self.evaluation.evaluate(prepared, pipeline: PipelineDescription.parse("spatial20"))
        }
        // No train set.
        #expect(throws: PipelineError.self) {
            try Self.evaluation.evaluate(prepared, pipeline: PipelineDescription.parse("dre10"))
        }
    }

    @Test func discriminativeRerankingWithALabelledTrainSetImprovesTheRanking() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let prepared = try Self.prepared(temporary)
        // A train set holding the benchmark's own labelled images: their predicted labels are (nearly) right,
        // so moving and inserting same-label images must help.
        let labelled = prepared.databaseImages.enumerated().compactMap { row, image in
            prepared.benchmark.labels[image].map { (row, $0) }
        }
        let trainSet = TrainSet(descriptors: Matrix(stacking: labelled.map { prepared.database.row($0.0) },
                                                    dimension: prepared.database.columns),
                                labels: labelled.map(\.1))
        let plain = try Self.evaluation.evaluate(prepared, pipeline: PipelineDescription())
        let reranked = try Self.evaluation.evaluate(prepared, pipeline: PipelineDescription.parse("dre10"),
                                                    trainSet: trainSet)
        Self.expectFullRankings(reranked, prepared.benchmark)
        #expect(reranked.timings.map(\.stage) == ["search", "dre10"])
        #expect(reranked.retrieval.meanAveragePrecision > plain.retrieval.meanAveragePrecision)
        #expect(reranked.retrieval.meanAveragePrecision <= 1)
    }

    @Test func leaveOneOutRecognitionPredictsEveryImage() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let prepared = try Self.prepared(temporary)
        let report = RecognitionEvaluation(recognition: KNNRecognition(inlierWeight: 0))
            .evaluate(prepared, pipeline: "baseline")
        let benchmark = prepared.benchmark
        #expect(Set(report.predictions.keys) == Set(benchmark.images))
        #expect(report.scores.labelledQueries == 16)
        #expect(report.scores.distractorQueries == 4)
        #expect(report.inlierWeight == 0)
        #expect((0...1).contains(report.scores.globalAveragePrecision))
        #expect((0...1).contains(report.scores.accuracy))
        #expect((0...1).contains(report.scores.distractorsRejected))
        // Four landmarks: guessing is right a quarter of the time.
        #expect(report.scores.accuracy > 0.5)
        // The reported accuracy is that of the reported predictions.
        var correct = 0
        for (index, image) in benchmark.images.enumerated() {
            guard let truth = benchmark.labels[index] else { continue }
            let prediction = try #require(report.predictions[image])
            if prediction.label == truth { correct += 1 }
            #expect(prediction.confidence > 0)
        }
        #expect(abs(Double(correct) / 16 - report.scores.accuracy) < 1e-12)
    }

    @Test func leaveOneOutNeverLetsAnImageVoteForItself() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let directory = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: directory, landmarks: 3, views: 3, distractors: 2)
        let loaded = try FolderBenchmark.load(directory)
        // Give the first distractor a landmark of its own: with itself left out, nobody can vote for it.
        let lonely = try #require(loaded.labels.firstIndex { $0 == nil })
        var labels = loaded.labels
        labels[lonely] = "lonely"
        let benchmark = FolderBenchmark(directory: loaded.directory, images: loaded.images, labels: labels)
        let prepared = Self.evaluation.prepare(benchmark, localFeatures: false)
        let report = RecognitionEvaluation(recognition: KNNRecognition(neighbours: 3, inlierWeight: 0))
            .evaluate(prepared, pipeline: "baseline")
        let prediction = try #require(report.predictions[benchmark.images[lonely]])
        #expect(prediction.label != nil)
        #expect(prediction.label != "lonely")
        #expect(!prediction.scores.contains { $0.label == "lonely" })
        #expect(report.scores.labelledQueries == 10)
    }

    @Test func asmkRetrievalIsSpatiallyReranked() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let directory = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: directory, landmarks: 3, views: 3, distractors: 2)
        let benchmark = try FolderBenchmark.load(directory)
        let asmk = ASMKRetrieval(vocabularySize: 32)
        let plain = try Self.evaluation.evaluateASMK(benchmark, retrieval: asmk, pipeline: PipelineDescription(retrieval: .asmk))
        #expect(plain.timings.map(\.stage) == ["asmk"])
        let pipeline = try PipelineDescription.parse("asmk,spatial5t10")
        let reranked = try Self.evaluation.evaluateASMK(benchmark, retrieval: asmk, pipeline: pipeline)
        Self.expectFullRankings(reranked, benchmark)
        #expect(reranked.timings.map(\.stage) == ["asmk", "spatial5t10"])
        #expect(reranked.pipeline == asmk.name + ",spatial5t10")
        // Only the first five of each ranking may move, and only among themselves.
        for (before, after) in zip(plain.rankings, reranked.rankings) {
            #expect(before.query == after.query)
            #expect(Set(before.ranking.prefix(5)) == Set(after.ranking.prefix(5)))
            #expect(Array(before.ranking.dropFirst(5)) == Array(after.ranking.dropFirst(5)))
        }
        #expect(throws: PipelineError.self) {
            try Self.evaluation.evaluateASMK(benchmark, retrieval: asmk, pipeline: PipelineDescription(
                retrieval: .asmk, stages: [.queryExpansion(neighbours: 2, alpha: 3)]))
        }
    }
}
