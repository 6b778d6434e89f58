import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkRecognition

/// A folder benchmark with everything the stages need computed once: global descriptors of every
/// readable image and, when asked, local features. Ablations and recognition reuse it.
public struct PreparedFolderBenchmark: Sendable {
    public let benchmark: FolderBenchmark
    /// Dataset index of every database row.
    public let databaseImages: [Int]
    /// Rows of the described images (L2-normalised descriptors).
    public let database: Matrix
    /// Row of each dataset image, nil when it could not be described.
    public let rowOfImage: [Int?]
    /// Local features by database row (empty when not extracted).
    public let localFeatures: [LocalFeatures?]
    public let skipped: [SkippedImage]
    public let descriptor: String
    public let secondsDescribing: Double
    public let secondsExtractingLocalFeatures: Double
}

/// One evaluated pipeline: the figures, the rankings and the time each stage took.
public struct PipelineReport: Sendable {
    public var pipeline: String
    public var retrieval: RetrievalReport
    public var rankings: [QueryRanking]
    public var timings: [StageTiming]

    /// Seconds per query of each timed stage.
    public var secondsPerQuery: [(stage: String, seconds: Double)] {
        let queries = max(1, retrieval.queries)
        return timings.map { ($0.stage, $0.seconds / Double(queries)) }
    }
}

/// A labelled train set in memory: descriptors (same descriptor as the evaluated images) and labels.
public struct TrainSet: Sendable {
    public var descriptors: Matrix
    public var labels: [String]
    /// kNN settings used to predict labels for discriminative re-ranking.
    public var recognition: KNNRecognition

    /// Where the train set came from (train index, labels file), so predictions made with it can be
    /// cached and recognised later; empty for a train set built in memory.
    public var source: String

    public init(descriptors: Matrix, labels: [String], recognition: KNNRecognition = KNNRecognition(inlierWeight: 0),
                source: String = "") {
        self.descriptors = descriptors
        self.labels = labels
        self.recognition = recognition
        self.source = source
    }

    /// Everything a prediction depends on, as one line.
    var predictionKey: String {
        "\(source) count=\(descriptors.rows)x\(descriptors.columns) K=\(recognition.neighbours) "
            + "min-confidence=\(recognition.minimumConfidence)"
    }

    /// Predicted landmark of every row of `vectors` by kNN voting on similarities (METHODS.md §4).
    public func predictLabels(_ vectors: Matrix) -> [String?] {
        guard descriptors.rows > 0, vectors.rows > 0 else { return Array(repeating: nil, count: vectors.rows) }
        let neighbours = ExactSearch(database: descriptors).search(vectors, k: min(descriptors.rows, recognition.neighbours))
        return neighbours.map { list in
            recognition.predict(list.map {
                RecognitionNeighbour(image: String($0.index), label: labels[$0.index], similarity: $0.score)
            }).label
        }
    }
}

/// Runs retrieval pipelines on a folder benchmark: every image with a landmark queries all the others.
public struct PipelineEvaluation: Sendable {
    public var extraction: DescriptorExtraction
    /// Matching and RANSAC settings of spatial verification.
    public var verifier: SpatialVerifier
    /// The index the rankings are searched with (exact by default), and its search settings.
    public var searchIndex: IndexFactory = .defaultFactory
    public var searchParameters = SearchParameters()
    /// Results an approximate index returns per query; positives beyond them count as not retrieved.
    /// Exact search ranks the whole benchmark.
    public var approximateDepth = 100

    public init(extraction: DescriptorExtraction,
                verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC)) {
        self.extraction = extraction
        self.verifier = verifier
    }

    /// Describes every image, and extracts local features when `localFeatures` is set.
    public func prepare(_ benchmark: FolderBenchmark, localFeatures: Bool,
                        progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> PreparedFolderBenchmark {
        let describeStart = Date()
        let items = benchmark.images.indices.map {
            ExtractionItem(url: benchmark.imageURL($0), name: benchmark.images[$0])
        }
        let results = extraction.describeAll(items, progress: progress)
        var databaseImages: [Int] = []
        var vectors: [[Float]] = []
        var skipped: [SkippedImage] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let vector): databaseImages.append(index); vectors.append(vector)
            case .failure(let failure): skipped.append(failure)
            }
        }
        var rowOfImage = [Int?](repeating: nil, count: benchmark.images.count)
        for (row, index) in databaseImages.enumerated() { rowOfImage[index] = row }
        let describeSeconds = Date().timeIntervalSince(describeStart)

        let localStart = Date()
        var features: [LocalFeatures?] = []
        if localFeatures {
            let urls = databaseImages.map { benchmark.imageURL($0) }
            features = LocalFeatureExtraction(verifier: verifier).extractAll(urls, progress: progress).map { try? $0.get() }
        }
        return PreparedFolderBenchmark(
            benchmark: benchmark, databaseImages: databaseImages,
            database: Matrix(stacking: vectors, dimension: extraction.extractor.dimension),
            rowOfImage: rowOfImage, localFeatures: features, skipped: skipped,
            descriptor: extraction.extractor.name, secondsDescribing: describeSeconds,
            secondsExtractingLocalFeatures: Date().timeIntervalSince(localStart))
    }

    /// Evaluates one pipeline (its retrieval must be a global descriptor: the prepared one).
    public func evaluate(_ prepared: PreparedFolderBenchmark, pipeline: PipelineDescription,
                         trainSet: TrainSet? = nil,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> PipelineReport {
        let output = try run(prepared, pipeline: pipeline, trainSet: trainSet, keepEveryStage: false, progress: progress)
        return report(prepared, pipeline: pipeline, rankings: output.rankings, timings: output.timings)
    }

    /// The retrieval alone, then one more stage at a time: each stage's effect on the same prepared data.
    /// The pipeline runs once; every row scores the rankings as they stood after its stage.
    public func ablation(_ prepared: PreparedFolderBenchmark, pipeline: PipelineDescription, trainSet: TrainSet? = nil,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> [PipelineReport] {
        let output = try run(prepared, pipeline: pipeline, trainSet: trainSet, keepEveryStage: true, progress: progress)
        return zip(pipeline.prefixes, output.rankingsAfterEachStage).enumerated().map { position, row in
            report(prepared, pipeline: row.0, rankings: row.1, timings: Array(output.timings.prefix(position + 1)))
        }
    }

    /// Runs the pipeline's stages for every described query of the prepared benchmark.
    private func run(_ prepared: PreparedFolderBenchmark, pipeline: PipelineDescription, trainSet: TrainSet?,
                     keepEveryStage: Bool,
                     progress: (@Sendable (PipelineProgress) -> Void)?) throws(PipelineError) -> RetrievalPipeline.Output {
        let benchmark = prepared.benchmark
        let queryRows = benchmark.queryIndices.compactMap { prepared.rowOfImage[$0] }
        let queries = Matrix(stacking: queryRows.map { prepared.database.row($0) }, dimension: prepared.database.columns)

        var resources = RetrievalResources(verifier: verifier)
        if pipeline.needsLocalFeatures {
            guard prepared.localFeatures.count == prepared.database.rows else {
                throw PipelineError(code: .invalidRequest, file: benchmark.directory.path,
                                    reason: "the pipeline verifies matches but local features were not extracted")
            }
            let features = prepared.localFeatures
            resources.databaseFeatures = { features[$0] }
            resources.queryFeatures = { features[queryRows[$0]] }
            if pipeline.stages.contains(where: { if case .scoreFusion = $0 { return true } else { return false } }) {
                // ASMK over the benchmark's own features, its vocabulary trained on them.
                let asmk = try ASMKRetrieval().buildIndex(features, file: benchmark.directory.path)
                // Scored when the stage asks, so that its timing includes the ASMK query.
                resources.asmkScores = { query in
                    guard let features = features[queryRows[query]] else { return [] }
                    return asmk.scores(for: asmk.represent(features.descriptors, multipleAssignment: asmk.configuration.queryMultipleAssignment))
                }
            }
        }
        if pipeline.needsTrainSet {
            guard let trainSet else {
                throw PipelineError(code: .invalidRequest, file: "",
                                    reason: "pipeline '\(pipeline)' re-ranks with a labelled train set: give --train-index and --train-labels")
            }
            resources.databaseLabels = trainSet.predictLabels(prepared.database)
            resources.queryLabels = queryRows.map { resources.databaseLabels?[$0] ?? nil }
        }
        return try RetrievalPipeline(stages: pipeline.stages, searchIndex: searchIndex, searchParameters: searchParameters)
            .run(database: prepared.database, queries: queries, excluded: queryRows, resources: resources,
                 depth: searchIndex.isExact ? nil : approximateDepth, keepEveryStage: keepEveryStage, progress: progress)
    }

    /// Scores rankings of the described queries (database rows, in query order) as a report.
    private func report(_ prepared: PreparedFolderBenchmark, pipeline: PipelineDescription, rankings rows: [[Int]],
                        timings: [StageTiming]) -> PipelineReport {
        let benchmark = prepared.benchmark
        let queryIndices = benchmark.queryIndices
        let describedQueries = queryIndices.filter { prepared.rowOfImage[$0] != nil }
        var rankingOfQuery: [Int: [Int]] = [:]
        for (query, ranking) in zip(describedQueries, rows) {
            rankingOfQuery[query] = ranking.map { prepared.databaseImages[$0] }
        }
        // A query that could not be read still counts, with an empty ranking (AP 0).
        let rankings = queryIndices.map { rankingOfQuery[$0] ?? [] }
        let name = pipeline.retrieval == .descriptorOptions
            ? ([prepared.descriptor] + pipeline.stages.map(\.description)).joined(separator: ",")
            : pipeline.description
        let (report, named) = RetrievalReport.folder(
            benchmark, rankings: rankings, descriptor: name, skipped: prepared.skipped,
            secondsDescribing: prepared.secondsDescribing + prepared.secondsExtractingLocalFeatures,
            secondsSearching: timings.reduce(0) { $0 + $1.seconds })
        return PipelineReport(pipeline: name, retrieval: report, rankings: named, timings: timings)
    }
}

extension PipelineEvaluation {
    /// Local-feature retrieval (RootSIFT + ASMK, no network), then the pipeline's spatial stages: spatial
    /// re-ranking works on any retrieval's list (METHODS.md §3).
    public func evaluateASMK(_ benchmark: FolderBenchmark, retrieval: ASMKRetrieval, pipeline: PipelineDescription,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> PipelineReport {
        let reports = try ablationASMK(benchmark, retrieval: retrieval, pipeline: pipeline, progress: progress)
        guard let last = reports.last else {
            throw PipelineError(code: .invalidRequest, file: benchmark.directory.path, reason: "no ranking was made")
        }
        return last
    }

    /// The ASMK ranking, then one more spatial stage at a time, each scored as it stands.
    public func ablationASMK(_ benchmark: FolderBenchmark, retrieval: ASMKRetrieval, pipeline: PipelineDescription,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> [PipelineReport] {
        var stages: [(depth: Int, minimumInliers: Int)] = []
        for stage in pipeline.stages {
            guard case .spatialVerification(let depth, let minimumInliers) = stage else {
                throw PipelineError(code: .invalidRequest, file: "",
                                    reason: "after asmk only spatial verification is available, not \(stage)")
            }
            stages.append((depth, minimumInliers))
        }
        let searchStart = Date()
        let first = try retrieval.evaluate(benchmark, progress: progress)
        var timings = [StageTiming(stage: "asmk", seconds: Date().timeIntervalSince(searchStart) - first.report.secondsDescribing)]
        var names = [retrieval.name]
        var firstReport = first.report
        firstReport.descriptor = retrieval.name
        var reports = [PipelineReport(pipeline: retrieval.name, retrieval: firstReport, rankings: first.rankings,
                                      timings: timings)]
        guard !stages.isEmpty else { return reports }

        let extractStart = Date()
        let urls = benchmark.images.indices.map { benchmark.imageURL($0) }
        let features = LocalFeatureExtraction(verifier: verifier).extractAll(urls, names: benchmark.images, progress: progress)
            .map { try? $0.get() }
        let describing = first.report.secondsDescribing + Date().timeIntervalSince(extractStart)
        var indexOfName: [String: Int] = [:]
        for (index, image) in benchmark.images.enumerated() { indexOfName[image] = index }
        let queryIndices = benchmark.queryIndices
        var rankings = first.rankings.map { $0.ranking.compactMap { indexOfName[$0] } }
        for (depth, minimumInliers) in stages {
            var stageVerifier = verifier
            stageVerifier.minimumInliers = minimumInliers
            let start = Date()
            let current = rankings
            rankings = RetrievalPipeline.spatiallyVerify(
                current, depth: depth, verifier: stageVerifier, databaseFeatures: { features[$0] },
                queryFeatures: { features[queryIndices[$0]] }, progress: nil).rankings
            let stageName = PipelineDescription.Stage.spatialVerification(depth: depth, minimumInliers: minimumInliers).description
            timings.append(StageTiming(stage: stageName, seconds: Date().timeIntervalSince(start)))
            names.append(stageName)
            let name = names.joined(separator: ",")
            let (report, named) = RetrievalReport.folder(
                benchmark, rankings: rankings, descriptor: name, skipped: first.report.skipped,
                secondsDescribing: describing, secondsSearching: timings.reduce(0) { $0 + $1.seconds })
            reports.append(PipelineReport(pipeline: name, retrieval: report, rankings: named, timings: timings))
        }
        return reports
    }
}
