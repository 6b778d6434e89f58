import LandmarkGeometry
import Foundation
import LandmarkEvaluation
import LandmarkPipeline
import LandmarkTraining

/// Mining measured against a folder benchmark's ground truth, which the mining itself never reads
/// (`landmark evaluate --task mining`, `landmark mine --ground-truth`).
public struct MiningEvaluation: Sendable {
    public var shortlist: Int
    public var minimumInliers: Int
    public var minimumClusterSize: Int
    public var weakBridgeInliers: Int?

    public init(shortlist: Int = 20, minimumInliers: Int = VerificationThresholds.miningEdge, minimumClusterSize: Int = 2, weakBridgeInliers: Int? = nil) {
        self.shortlist = shortlist
        self.minimumInliers = minimumInliers
        self.minimumClusterSize = minimumClusterSize
        self.weakBridgeInliers = weakBridgeInliers
    }

    public struct Report: Sendable, Codable {
        public var dataset: String
        public var images: Int
        public var pairsVerified: Int
        /// Pairs verified in this run (the rest came from the index's cache), per second of verification.
        public var newlyVerifiedPairs: Int
        public var verifiedPairsPerSecond: Double?
        public var edges: Int
        public var tuples: Int
        public var clusterSizes: [Int]
        public var scores: MiningScores
        public var seconds: Double
    }

    /// Mines `index` (global descriptors and local features of the benchmark's images) and scores the
    /// clusters and tuples against `benchmark`.
    public func evaluate(_ index: RetrievalIndex, benchmark: FolderBenchmark, dataset: String,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> Report {
        let started = Date()
        let (graph, newlyVerified) = try MatchGraph.buildCountingVerification(index, shortlist: shortlist, progress: progress)
        let verificationSeconds = Date().timeIntervalSince(started)
        let clusters = MinedClusters(graph, minimumInliers: minimumInliers, minimumSize: minimumClusterSize,
                                     weakBridgeInliers: weakBridgeInliers)
        let tuples = clusters.tuples(graph, minimumInliers: minimumInliers)
        return Report(dataset: dataset, images: graph.images.count, pairsVerified: graph.edges.count,
                      newlyVerifiedPairs: newlyVerified,
                      verifiedPairsPerSecond: newlyVerified > 0 ? Double(newlyVerified) / verificationSeconds : nil,
                      edges: graph.edges.filter { $0.inliers >= minimumInliers }.count, tuples: tuples.count,
                      clusterSizes: clusters.members.map(\.count),
                      scores: MiningScores(clusters: clusters, graph: graph, benchmark: benchmark, tuples: tuples),
                      seconds: Date().timeIntervalSince(started))
    }
}

/// How mined clusters compare with a ground truth the mining never read.
public struct MiningScores: Sendable, Codable, Equatable {
    /// Same-cluster pairs that share a landmark, over all same-cluster pairs.
    public var pairPrecision: Double
    /// Same-landmark pairs that landed in one cluster, over all same-landmark pairs.
    public var pairRecall: Double
    /// Images in their cluster's majority landmark, over clustered images.
    public var purity: Double
    public var clusters: Int
    public var clusteredImages: Int
    public var landmarks: Int
    /// Training tuples whose query and positive share a landmark, over tuples (nil without tuples).
    public var positivePrecision: Double?

    /// Scores against a folder benchmark: each graph image takes its landmark there (none when absent).
    public init(clusters: MinedClusters, graph: MatchGraph, benchmark: FolderBenchmark, tuples: [TupleFile.Tuple]) {
        let labelOf = Dictionary(zip(benchmark.images, benchmark.labels), uniquingKeysWith: { first, _ in first })
        self.init(clusters: clusters, labels: graph.images.map { labelOf[$0] ?? nil }, tuples: tuples, images: graph.images)
    }

    /// - Parameters:
    ///   - labels: the landmark of each graph image (nil: a distractor or unlabelled).
    ///   - tuples: the mined tuples to check, by image path of `images`.
    public init(clusters: MinedClusters, labels: [String?], tuples: [TupleFile.Tuple] = [], images: [String] = []) {
        var samePairs = 0, correctPairs = 0, majority = 0
        for members in clusters.members {
            var counts: [String: Int] = [:]
            for image in members { if let label = labels[image] { counts[label, default: 0] += 1 } }
            majority += counts.values.max() ?? 0
            samePairs += members.count * (members.count - 1) / 2
            correctPairs += counts.values.reduce(0) { $0 + $1 * ($1 - 1) / 2 }
        }
        var byLandmark: [String: [Int]] = [:]
        for (image, label) in labels.enumerated() { if let label { byLandmark[label, default: []].append(image) } }
        let truePairs = byLandmark.values.reduce(0) { $0 + $1.count * ($1.count - 1) / 2 }
        let clustered = clusters.members.reduce(0) { $0 + $1.count }
        pairPrecision = samePairs > 0 ? Double(correctPairs) / Double(samePairs) : 1
        pairRecall = truePairs > 0 ? Double(correctPairs) / Double(truePairs) : 0
        purity = clustered > 0 ? Double(majority) / Double(clustered) : 1
        self.clusters = clusters.members.count
        clusteredImages = clustered
        landmarks = byLandmark.count
        let labelOf = Dictionary(zip(images, labels), uniquingKeysWith: { first, _ in first })
        positivePrecision = tuples.isEmpty ? nil
            : Double(tuples.filter { tuple in
                guard let query = labelOf[tuple.query] ?? nil, let positive = labelOf[tuple.positive] ?? nil else { return false }
                return query == positive
            }.count) / Double(tuples.count)
    }
}
