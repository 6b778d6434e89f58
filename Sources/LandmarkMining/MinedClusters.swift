import Foundation
import LandmarkTraining

/// Landmarks found without labels (METHODS.md §9.2–3): connected components of the match graph over
/// edges with at least `minimumInliers` distinct inliers, small components dropped; and from them the
/// training tuples `landmark train` reads.
public struct MinedClusters: Sendable, Equatable {
    /// Cluster of each image, nil for images in no kept cluster.
    public let clusterOfImage: [Int?]
    /// Images of each cluster, largest cluster first.
    public let members: [[Int]]

    public init(_ graph: MatchGraph, minimumInliers: Int, minimumSize: Int = 2) {
        var parent = Array(0..<graph.images.count)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for edge in graph.edges where edge.inliers >= minimumInliers {
            let a = root(edge.first), b = root(edge.second)
            if a != b { parent[max(a, b)] = min(a, b) }
        }
        var groups: [Int: [Int]] = [:]
        for node in parent.indices { groups[root(node), default: []].append(node) }
        let kept = groups.values.filter { $0.count >= max(2, minimumSize) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : ($0.first ?? 0) < ($1.first ?? 0) }
        var clusterOfImage = [Int?](repeating: nil, count: graph.images.count)
        for (cluster, images) in kept.enumerated() { for image in images { clusterOfImage[image] = cluster } }
        self.clusterOfImage = clusterOfImage
        members = kept
    }

    /// One tuple per clustered image that has a verified neighbour: its *hard* positive is the verified
    /// neighbour the global descriptor finds least similar (METHODS.md §9.3). Negatives are left to
    /// `landmark train`, which re-mines them every epoch with its current network.
    public func tuples(_ graph: MatchGraph, minimumInliers: Int) -> [TupleFile.Tuple] {
        var hardest: [Int: (positive: Int, similarity: Float)] = [:]
        for edge in graph.edges where edge.inliers >= minimumInliers {
            for (query, positive) in [(edge.first, edge.second), (edge.second, edge.first)] {
                if let current = hardest[query],
                   current.similarity < edge.similarity || (current.similarity == edge.similarity && current.positive < positive) { continue }
                hardest[query] = (positive, edge.similarity)
            }
        }
        return hardest.keys.sorted().compactMap { query in
            guard clusterOfImage[query] != nil, let positive = hardest[query]?.positive else { return nil }
            return TupleFile.Tuple(query: graph.images[query], positive: graph.images[positive])
        }
    }

    /// Writes `clusters.tsv`, `tuples.tsv` and `mining.json` (TupleFile's format).
    public func write(to directory: URL, graph: MatchGraph, root: URL, minimumInliers: Int, parameters: [String: String]) throws {
        var clusters: [(image: String, cluster: String)] = []
        for (cluster, images) in members.enumerated() {
            for image in images { clusters.append((graph.images[image], String(format: "cluster-%04d", cluster))) }
        }
        try TupleFile.write(to: directory, root: root, clusters: clusters, tuples: tuples(graph, minimumInliers: minimumInliers),
                            parameters: parameters)
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

    public init(clusters: MinedClusters, labels: [String?]) {
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
    }
}
