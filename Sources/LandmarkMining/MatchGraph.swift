import Foundation
import LandmarkLinearAlgebra
import LandmarkPipeline
import LandmarkStorage

/// The verified-match graph of an indexed collection (METHODS.md §9.1): every image's shortlist by the
/// global descriptor, spatial verification of each unordered pair once, the distinct-inlier score of
/// every verified pair. It stands in for the structure-from-motion models of the original work.
public struct MatchGraph: Sendable, Equatable {
    public struct Edge: Sendable, Equatable, Hashable {
        public var first: Int
        public var second: Int
        /// Distinct inliers of a plausible model (0 when verification failed).
        public var inliers: Int
        /// Global-descriptor similarity of the pair.
        public var similarity: Float

        public init(first: Int, second: Int, inliers: Int, similarity: Float) {
            self.first = first
            self.second = second
            self.inliers = inliers
            self.similarity = similarity
        }
    }

    /// Image identifiers (paths relative to the indexed folder), indexed like the store.
    public let images: [String]
    /// Every verified pair, `first < second`, sorted.
    public let edges: [Edge]

    public init(images: [String], edges: [Edge]) {
        self.images = images
        self.edges = edges.sorted { ($0.first, $0.second) < ($1.first, $1.second) }
    }

    /// The file in the index directory that keeps verified pairs between runs.
    public static func cacheURL(_ index: URL) -> URL { index.appendingPathComponent("match-graph.tsv") }

    /// Builds the graph of `index` (which needs global descriptors and local features): the top
    /// `shortlist` neighbours of every image, each unordered pair verified once over every core. Pairs
    /// already in the index's `match-graph.tsv` are reused; the file is rewritten with the new ones.
    public static func build(_ index: RetrievalIndex, shortlist: Int, verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> MatchGraph {
        guard index.hasGlobalDescriptors, index.localFeatureStore != nil else {
            throw MiningError(file: index.directory.path,
                              reason: "mining needs global descriptors and local features: index with `landmark index IMAGES --out INDEX --local rootsift-asmk`")
        }
        let identifiers = index.store.identifiers
        let position = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let descriptors = index.store.matrix()
        var candidates: [SIMD2<Int>: Float] = [:]
        // Query blocks keep the similarity matrix bounded (block × N), never N × N.
        let block = 256
        for start in stride(from: 0, to: identifiers.count, by: block) {
            let rows = start..<min(start + block, identifiers.count)
            let queries = Matrix(rowVectors: rows.map { descriptors.row($0) })
            for (row, hits) in zip(rows, index.search(descriptors: queries, top: shortlist + 1)) {
                for hit in hits {
                    guard let other = position[hit.image], other != row else { continue }
                    candidates[SIMD2(min(row, other), max(row, other))] = hit.score
                }
            }
        }
        let cached = readCache(cacheURL(index.directory), identifiers: identifiers, position: position)
        let pairs = candidates.keys.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
        let missing = pairs.filter { cached[$0] == nil }
        let counts = verifier.inlierCounts(missing.map { ($0.x, $0.y) }, raw: true,
                                           firstFeatures: { index.localFeatures(ofImage: $0) },
                                           secondFeatures: { index.localFeatures(ofImage: $0) }, progress: progress)
        var inliers = cached
        for (pair, count) in zip(missing, counts) { inliers[pair] = count }
        let edges = pairs.map { Edge(first: $0.x, second: $0.y, inliers: inliers[$0] ?? 0, similarity: candidates[$0] ?? 0) }
        let graph = MatchGraph(images: identifiers, edges: edges)
        if !missing.isEmpty { try writeCache(graph, cached: inliers, to: cacheURL(index.directory)) }
        return graph
    }

    static func readCache(_ url: URL, identifiers: [String], position: [String: Int]) -> [SIMD2<Int>: Int] {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else { return [:] }
        var result: [SIMD2<Int>: Int] = [:]
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, let a = position[String(fields[0])], let b = position[String(fields[1])], let count = Int(fields[2]) else {
                continue  // a line for images no longer indexed, or damaged: verified again
            }
            result[SIMD2(min(a, b), max(a, b))] = count
        }
        return result
    }

    static func writeCache(_ graph: MatchGraph, cached: [SIMD2<Int>: Int], to url: URL) throws {
        var text = "first\tsecond\tinliers\n"
        for pair in cached.keys.sorted(by: { ($0.x, $0.y) < ($1.x, $1.y) }) {
            text += "\(graph.images[pair.x])\t\(graph.images[pair.y])\t\(cached[pair] ?? 0)\n"
        }
        try DurableFile.write(Data(text.utf8), to: url)
    }
}

/// Why mining could not run: the file or folder and the reason.
public struct MiningError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var reason: String
    public init(file: String, reason: String) {
        self.file = file
        self.reason = reason
    }
    public var description: String { "\(file): \(reason)" }
}
