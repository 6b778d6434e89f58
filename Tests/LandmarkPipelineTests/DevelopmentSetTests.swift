import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkIndex
import LandmarkPipeline
import Testing

/// Runs on the real photographs of `../shared/devset` when this checkout has them.
@Suite struct DevelopmentSetTests {
    @Test(.enabled(if: developmentSet != nil, "../shared/devset is absent"))
    func baselineRetrievalOnRealPhotographs() throws {
        let directory = try #require(developmentSet)
        let benchmark = try FolderBenchmark.load(directory)
        let evaluation = RetrievalEvaluation(extraction: DescriptorExtraction(extractor: GradientColourHistogramBaseline()))
        let (report, rankings) = try evaluation.evaluate(benchmark)
        #expect(report.skipped.isEmpty)
        #expect(report.queries == benchmark.queryIndices.count)
        #expect(rankings.allSatisfy { $0.ranking.count == benchmark.images.count - 1 })
        // Measured 0.677 when written; a random ranking scores about 0.1. A drop below 0.6 means a regression
        // in decoding, resizing or the descriptor.
        #expect(report.meanAveragePrecision > 0.6)
        #expect(report.meanAveragePrecision <= 1)
    }

    /// The `best` preset stage by stage on the real photographs, with the figures measured when the preset
    /// was chosen (scripts/choose_pipeline.py). Each figure moves when its stage breaks: the plain search
    /// (decoding, the network, pooling), DBA and αQE (their weights), the spatial stage (matching, RANSAC,
    /// the plausibility checks, the threshold) and DQE (its positives and negatives, the SVM).
    @Test(.enabled(if: developmentSet != nil && CNNExtractionTests.weightsPresent,
                   "needs ../shared/devset and the Lite2 weights (scripts/setup.sh)"))
    func bestPresetReachesItsMeasuredFiguresStageByStage() throws {
        let directory = try #require(developmentSet)
        let benchmark = try FolderBenchmark.load(directory)
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration())
        let evaluation = PipelineEvaluation(extraction: DescriptorExtraction(extractor: extractor))
        let pipeline = try PipelineDescription.parse("best")
        let prepared = evaluation.prepare(benchmark, localFeatures: pipeline.needsLocalFeatures)
        #expect(prepared.skipped.isEmpty)
        let reports = try evaluation.ablation(prepared, pipeline: pipeline)
        let figures = reports.map(\.retrieval.meanAveragePrecision)
        let expected = BestPresetFigures.devset
        #expect(reports.map { $0.timings.last?.stage ?? "" } == ["search"] + pipeline.stages.map(\.description))
        #expect(figures.count == expected.count)
        for (stage, (figure, measured)) in zip(reports.map(\.pipeline), zip(figures, expected)) {
            #expect(abs(figure - measured) < 0.002, "\(stage): mAP \(figure), measured \(measured)")
        }
        // What the preset is for: at least 3 points over the plain descriptor, no stage costing more than 0.3.
        #expect(figures.last! >= figures[0] + 0.03)
        for (before, after) in zip(figures, figures.dropFirst()) { #expect(after >= before - 0.003) }
    }

    /// Approximate search on the real descriptors: an HNSW graph and an inverted file with every cell
    /// probed must rank the benchmark as exact search does, to within 0.01 mAP (their rankings are cut
    /// at 100 results; positives beyond count as not retrieved).
    @Test(.enabled(if: developmentSet != nil && CNNExtractionTests.weightsPresent,
                   "needs ../shared/devset and the Lite2 weights (scripts/setup.sh)"))
    func approximateIndexesMatchExactSearch() throws {
        let directory = try #require(developmentSet)
        let benchmark = try FolderBenchmark.load(directory)
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration())
        var evaluation = PipelineEvaluation(extraction: DescriptorExtraction(extractor: extractor))
        let pipeline = try PipelineDescription.parse("global")
        let prepared = evaluation.prepare(benchmark, localFeatures: false)
        let exact = try evaluation.evaluate(prepared, pipeline: pipeline).retrieval.meanAveragePrecision
        for (factory, parameters) in [(IndexFactory.hierarchicalGraph(links: 32), SearchParameters()),
                                      (.invertedFile(cells: 16, productQuantizerBytes: nil), SearchParameters(probes: 16))] {
            evaluation.searchIndex = factory
            evaluation.searchParameters = parameters
            let approximate = try evaluation.evaluate(prepared, pipeline: pipeline).retrieval.meanAveragePrecision
            #expect(abs(approximate - exact) <= 0.01, "\(factory): mAP \(approximate), exact \(exact)")
        }
        // Product quantisation cannot be trained on a few dozen photographs; it says so.
        evaluation.searchIndex = .invertedFile(cells: 16, productQuantizerBytes: 16)
        #expect(throws: PipelineError.self) { try evaluation.evaluate(prepared, pipeline: pipeline) }
    }
}

/// mAP after each stage of `best` on ../shared/devset, as `landmark evaluate --dataset ../shared/devset
/// --pipeline best --ablation` printed it when the preset was chosen.
enum BestPresetFigures {
    static let devset: [Double] = [0.8592, 0.9043, 0.9071, 0.9122, 0.9149]
}
