import Foundation
import LandmarkPipeline

/// Automatic cleaning of a noisy labelled train set (METHODS.md §6): an image keeps its label when more
/// than `minimumVerified` of its nearest same-label neighbours (at most `sameLabelNeighbours` of them
/// among its `neighbours` nearest by the global descriptor) are spatially verified with at least
/// `minimumInliers` distinct inliers. Verified pairs share the match graph's cache in the index.
public struct LabelCleaning: Sendable {
    public var neighbours: Int
    public var sameLabelNeighbours: Int
    public var minimumInliers: Int
    public var minimumVerified: Int

    /// The defaults keep an image with at least one same-label neighbour verified by 15 distinct inliers.
    /// METHODS.md §6 asks for more than 2, which suits GLDv2's classes of hundreds of images; on a
    /// personal-sized collection (trainset: 2–41 images per landmark, 20 % of labels moved, seeds 1–3)
    /// "more than 2" dropped 40–51 of 167 clean images, "more than 0" 10–11, with removal precision
    /// 0.76–0.81 and recall 0.83–1.00 (scripts/experiments/noisy_labels.py).
    public init(neighbours: Int = 1000, sameLabelNeighbours: Int = 100, minimumInliers: Int = 15, minimumVerified: Int = 0) {
        self.neighbours = max(1, neighbours)
        self.sameLabelNeighbours = max(1, sameLabelNeighbours)
        self.minimumInliers = max(1, minimumInliers)
        self.minimumVerified = max(0, minimumVerified)
    }

    /// The decision for one image.
    public struct Decision: Sendable, Equatable, Codable {
        public var image: String
        public var label: String
        /// Same-label neighbours verified with enough inliers.
        public var verified: Int
        public var kept: Bool
    }

    /// Decides every labelled image of `index`; `labels[identifier]` gives its landmark (unlabelled
    /// images are not decided and never kept).
    public func clean(_ index: RetrievalIndex, labels: [String: String], verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                      progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> [Decision] {
        guard index.hasGlobalDescriptors, index.localFeatureStore != nil else {
            throw MiningError(file: index.directory.path,
                              reason: "cleaning needs global descriptors and local features: index with `landmark index IMAGES --out INDEX --local rootsift-asmk`")
        }
        let identifiers = index.store.identifiers
        let position = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let descriptors = index.store.matrix()
        var sameLabel: [Int: [Int]] = [:]
        let labelled = identifiers.indices.filter { labels[identifiers[$0]] != nil }
        for start in stride(from: 0, to: labelled.count, by: 256) {
            let rows = Array(labelled[start..<min(start + 256, labelled.count)])
            let hits = index.search(descriptors: .init(rowVectors: rows.map { descriptors.row($0) }), top: min(neighbours + 1, identifiers.count))
            for (row, ranking) in zip(rows, hits) {
                let label = labels[identifiers[row]]
                sameLabel[row] = Array(ranking.compactMap { position[$0.image] }
                    .filter { $0 != row && labels[identifiers[$0]] == label }.prefix(sameLabelNeighbours))
            }
        }
        var pairs = Set<SIMD2<Int>>()
        for (row, others) in sameLabel { for other in others { pairs.insert(SIMD2(min(row, other), max(row, other))) } }
        let ordered = pairs.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
        let inliers = try MatchGraph.verifiedInliers(ordered, index: index, verifier: verifier, progress: progress)
        return labelled.map { row in
            let verified = (sameLabel[row] ?? []).filter { (inliers[SIMD2(min(row, $0), max(row, $0))] ?? 0) >= minimumInliers }.count
            return Decision(image: identifiers[row], label: labels[identifiers[row]] ?? "", verified: verified,
                            kept: verified > minimumVerified)
        }
    }
}
