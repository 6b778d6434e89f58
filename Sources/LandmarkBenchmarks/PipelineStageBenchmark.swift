import Foundation
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkPipeline
import LandmarkReranking

/// Time per query of every retrieval stage (METHODS.md §3) on an index of realistic size, excluding
/// description: the issue's bound is one second per query on a 10k-image index.
public struct PipelineStageBenchmarkResult: Sendable, CustomStringConvertible {
    public struct Entry: Sendable {
        public let stage: String
        /// Seconds per query of the stage alone.
        public let secondsPerQuery: Double
    }

    public let databaseCount: Int
    public let dimension: Int
    public let queries: Int
    /// Local features per image of the spatial stage, and where they came from.
    public let featuresPerImage: Int
    public let featureSource: String
    /// Database-side augmentation and the diffusion graph are built once per index, not per query.
    public let augmentationSeconds: Double
    public let diffusionGraphSeconds: Double
    public let entries: [Entry]

    public var description: String {
        var lines = [String(format: "pipeline stages on a %d × %d index, %d queries (time per query, description excluded):",
                            databaseCount, dimension, queries)]
        for entry in entries {
            lines.append("  " + entry.stage.padding(toLength: max(11, entries.map(\.stage.count).max() ?? 0), withPad: " ", startingAt: 0)
                + String(format: "%9.2f ms/query", 1000 * entry.secondsPerQuery))
        }
        lines.append(String(format: "  database-side augmentation of the whole index (once): %.2f s", augmentationSeconds))
        lines.append(String(format: "  diffusion graph (mutual 50-NN) of the whole index (once): %.2f s", diffusionGraphSeconds))
        lines.append("  spatial: \(featuresPerImage) features per image on average, from \(featureSource)")
        return lines.joined(separator: "\n")
    }
}

public enum PipelineStageBenchmark {
    /// Runs search, αQE, DQE (after spatial verification, which gives it its positives), discriminative
    /// re-ranking, spatial verification (top 30 and top 100) and diffusion (full and truncated) for `queries` queries on a clustered synthetic index; spatial verification matches the local features of
    /// `images` (real photographs when given) cycled over the index.
    public static func run(databaseCount: Int = 10_000, dimension: Int = 1280, queries queryCount: Int = 20,
                           images: [URL], log: (String) -> Void) throws(PipelineError) -> PipelineStageBenchmarkResult {
        var generator = SplitMix64(seed: 7)
        let clusters = max(1, databaseCount / 10)
        var centres: [[Float]] = []
        for _ in 0..<clusters { centres.append(l2Normalized((0..<dimension).map { _ in Float(generator.nextUnit() - 0.5) })) }
        var rows: [[Float]] = []
        var labels: [String?] = []
        for row in 0..<databaseCount {
            let cluster = row % clusters
            rows.append(l2Normalized(centres[cluster].map { $0 + 0.02 * Float(generator.nextUnit() - 0.5) }))
            labels.append("landmark-\(cluster)")
        }
        let database = Matrix(rows: databaseCount, columns: dimension, storage: rows.flatMap { $0 })
        let queryRows = (0..<queryCount).map { ($0 * 7919) % databaseCount }
        let queries = Matrix(rows: queryCount, columns: dimension, storage: queryRows.flatMap { database.row($0) })

        log("extracting local features of \(images.count) photographs…")
        let verifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC)
        let features = images.compactMap { try? verifier.features(of: $0).get().features }
        guard !features.isEmpty else {
            throw PipelineError(code: .invalidRequest, file: "", reason: "no photograph gave local features")
        }
        let averageFeatures = features.reduce(0) { $0 + $1.count } / features.count
        var resources = RetrievalResources(
            databaseFeatures: { features[$0 % features.count] }, queryFeatures: { features[($0 + 1) % features.count] },
            verifier: verifier, databaseLabels: labels, queryLabels: queryRows.map { labels[$0] })
        log("building the diffusion graph…")
        let graphStart = Date()
        let graph = DiffusionGraph(database: database, neighbours: 50)
        let diffusionGraphSeconds = Date().timeIntervalSince(graphStart)
        resources.diffusionGraph = { _, _, _ in graph }

        var entries: [PipelineStageBenchmarkResult.Entry] = []
        let spatial = PipelineDescription.Stage.spatialVerification(depth: 100, minimumInliers: PipelineDescription.defaultMinimumInliers)
        // The depth of the `best` preset.
        let spatial30 = PipelineDescription.Stage.spatialVerification(depth: 30, minimumInliers: PipelineDescription.defaultMinimumInliers)
        // The last stage of each list is timed.
        let stages: [[PipelineDescription.Stage]] = [
            [], [.queryExpansion(neighbours: 2, alpha: 3)], [.queryExpansion(neighbours: 10, alpha: 3)],
            [spatial, .discriminativeQueryExpansion(depth: 100)], [.discriminativeReranking(depth: 100)], [spatial30], [spatial],
            [.diffusion(neighbours: 50, queryNeighbours: 10, alpha: 0.99, truncation: nil)],
            [.diffusion(neighbours: 50, queryNeighbours: 10, alpha: 0.99, truncation: 1000)],
        ]
        for stage in stages {
            log("timing \(stage.last?.description ?? "search")…")
            let output = try RetrievalPipeline(stages: stage)
                .run(database: database, queries: queries, excluded: queryRows, resources: resources)
            if let timing = output.timings.last {
                entries.append(.init(stage: timing.stage, secondsPerQuery: timing.seconds / Double(queryCount)))
            }
        }
        log("timing database-side augmentation…")
        let start = Date()
        _ = try RetrievalPipeline(stages: [.databaseAugmentation(neighbours: 2, alpha: 3)])
            .run(database: database, queries: Matrix(rows: 1, columns: dimension, storage: database.row(0)),
                 excluded: [0], resources: resources)
        return PipelineStageBenchmarkResult(
            databaseCount: databaseCount, dimension: dimension, queries: queryCount,
            featuresPerImage: averageFeatures,
            featureSource: "\(features.count) photographs cycled over the index",
            augmentationSeconds: Date().timeIntervalSince(start), diffusionGraphSeconds: diffusionGraphSeconds, entries: entries)
    }
}
