import Foundation
import LandmarkLinearAlgebra
import LandmarkTraining

/// Landmarks found without labels (METHODS.md §9.2–3): connected components of the match graph over
/// edges with at least `minimumInliers` distinct inliers, small components dropped; and from them the
/// training tuples `landmark train` reads.
public struct MinedClusters: Sendable, Equatable {
    /// Cluster of each image, nil for images in no kept cluster.
    public let clusterOfImage: [Int?]
    /// Images of each cluster, largest cluster first.
    public let members: [[Int]]

    /// - Parameters:
    ///   - minimumInliers: distinct inliers an edge needs to join two images.
    ///   - minimumSize: smallest cluster kept.
    ///   - weakBridgeInliers: when set, an edge that is the only link between two parts of a component
    ///     (a bridge) and has fewer inliers than this is cut, so that one chance match cannot chain two
    ///     landmarks together; edges inside well-connected groups are never cut.
    public init(_ graph: MatchGraph, minimumInliers: Int, minimumSize: Int = 2, weakBridgeInliers: Int? = nil) {
        var strong = graph.edges.filter { $0.inliers >= minimumInliers }
        if let weakBridgeInliers {
            let bridges = Self.bridges(strong, nodes: graph.images.count)
            strong = strong.enumerated().filter { !bridges.contains($0.offset) || $0.element.inliers >= weakBridgeInliers }.map(\.element)
        }
        var parent = Array(0..<graph.images.count)
        func root(_ node: Int) -> Int {
            var node = node
            while parent[node] != node {
                parent[node] = parent[parent[node]]
                node = parent[node]
            }
            return node
        }
        for edge in strong {
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

    /// Positions in `edges` of the bridges: edges whose removal disconnects their component (Tarjan's
    /// low-link, iterative so that long chains cannot overflow the stack).
    static func bridges(_ edges: [MatchGraph.Edge], nodes: Int) -> Set<Int> {
        var adjacency = [[(node: Int, edge: Int)]](repeating: [], count: nodes)
        for (position, edge) in edges.enumerated() {
            adjacency[edge.first].append((edge.second, position))
            adjacency[edge.second].append((edge.first, position))
        }
        var order = [Int](repeating: -1, count: nodes), low = [Int](repeating: 0, count: nodes)
        var result = Set<Int>(), time = 0
        for start in 0..<nodes where order[start] < 0 {
            // Stack frames: node, the edge it was reached by, the next adjacency position to visit.
            var stack: [(node: Int, via: Int, next: Int)] = [(start, -1, 0)]
            order[start] = time; low[start] = time; time += 1
            while let frame = stack.last {
                if frame.next < adjacency[frame.node].count {
                    stack[stack.count - 1].next += 1
                    let (other, edge) = adjacency[frame.node][frame.next]
                    if edge == frame.via { continue }
                    if order[other] < 0 {
                        order[other] = time; low[other] = time; time += 1
                        stack.append((other, edge, 0))
                    } else {
                        low[frame.node] = min(low[frame.node], order[other])
                    }
                } else {
                    stack.removeLast()
                    if let parent = stack.last {
                        low[parent.node] = min(low[parent.node], low[frame.node])
                        if low[frame.node] > order[parent.node] { result.insert(frame.via) }
                    }
                }
            }
        }
        return result
    }

    /// How a query's positive is chosen among its verified neighbours (METHODS.md §9.3).
    public enum PositiveSelection: Sendable, Equatable {
        /// The verified neighbour the global descriptor finds least similar: the hardest positive.
        case hardest
        /// A random verified neighbour beyond the `skippingNearest` most similar ones (which teach the
        /// network little), seeded; the hardest when there is none beyond them.
        case random(skippingNearest: Int, seed: UInt64)
    }

    /// One tuple per clustered image that has a verified neighbour in its cluster, with the positive
    /// chosen by `selection`. Negatives are left to `landmark train`, which re-mines them every epoch
    /// with its current network (nearest images of other clusters, at most one per cluster).
    public func tuples(_ graph: MatchGraph, minimumInliers: Int, selection: PositiveSelection = .hardest) -> [TupleFile.Tuple] {
        var neighbours: [Int: [(other: Int, similarity: Float)]] = [:]
        for edge in graph.edges where edge.inliers >= minimumInliers {
            guard let cluster = clusterOfImage[edge.first], clusterOfImage[edge.second] == cluster else { continue }
            neighbours[edge.first, default: []].append((edge.second, edge.similarity))
            neighbours[edge.second, default: []].append((edge.first, edge.similarity))
        }
        var generator: SplitMix64?
        if case .random(_, let seed) = selection { generator = SplitMix64(seed: seed) }
        return neighbours.keys.sorted().compactMap { query in
            // Most similar first; ties by image order, so the choice is deterministic.
            let ranked = (neighbours[query] ?? []).sorted { $0.similarity != $1.similarity ? $0.similarity > $1.similarity : $0.other < $1.other }
            guard let hardest = ranked.last else { return nil }
            var positive = hardest.other
            if case .random(let skipped, _) = selection, ranked.count > skipped, var random = generator {
                positive = ranked[skipped + Int(random.next() % UInt64(ranked.count - skipped))].other
                generator = random
            }
            return TupleFile.Tuple(query: graph.images[query], positive: graph.images[positive])
        }
    }

    /// Writes `clusters.tsv`, `tuples.tsv` and `mining.json` (TupleFile's format).
    public func write(to directory: URL, graph: MatchGraph, root: URL, minimumInliers: Int, selection: PositiveSelection = .hardest,
                      parameters: [String: String]) throws {
        var clusters: [(image: String, cluster: String)] = []
        for (cluster, images) in members.enumerated() {
            for image in images { clusters.append((graph.images[image], String(format: "cluster-%04d", cluster))) }
        }
        try TupleFile.write(to: directory, root: root, clusters: clusters, tuples: tuples(graph, minimumInliers: minimumInliers, selection: selection),
                            parameters: parameters)
    }
}
