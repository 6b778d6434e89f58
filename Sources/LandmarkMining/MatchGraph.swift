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
    /// already in the index's `match-graph.tsv` are reused; new ones are appended batch by batch.
    public static func build(_ index: RetrievalIndex, shortlist: Int, verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> MatchGraph {
        try buildCountingVerification(index, shortlist: shortlist, verifier: verifier, progress: progress).graph
    }

    /// ``build(_:shortlist:verifier:progress:)``, also returning how many pairs this call verified (the
    /// rest came from the cache), for throughput figures.
    public static func buildCountingVerification(_ index: RetrievalIndex, shortlist: Int,
                                                 verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                                                 progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws
        -> (graph: MatchGraph, verifiedNow: Int) {
        guard index.hasGlobalDescriptors, index.localFeatureStore != nil else {
            throw MiningError(file: index.directory.path,
                              reason: "mining needs global descriptors and local features: index with `landmark index IMAGES --out INDEX --local rootsift-asmk`")
        }
        var candidates: [SIMD2<Int>: Float] = [:]
        forEachNeighbourList(of: Array(index.store.identifiers.indices), in: index, top: shortlist + 1) { row, neighbours in
            for (other, score) in neighbours { candidates[SIMD2(min(row, other), max(row, other))] = score }
        }
        let pairs = candidates.keys.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
        let (inliers, verifiedNow) = try verifiedInliers(pairs, index: index, verifier: verifier, progress: progress)
        let edges = pairs.map { Edge(first: $0.x, second: $0.y, inliers: inliers[$0] ?? 0, similarity: candidates[$0] ?? 0) }
        return (MatchGraph(images: index.store.identifiers, edges: edges), verifiedNow)
    }

    /// Every row's nearest rows by the global descriptor (itself left out), best first, with their
    /// similarities. Queries go in blocks, so the similarity matrix stays block × N, never N × N.
    static func forEachNeighbourList(of rows: [Int], in index: RetrievalIndex, top: Int,
                                     _ body: (_ row: Int, _ neighbours: [(row: Int, score: Float)]) -> Void) {
        let identifiers = index.store.identifiers
        let position = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let descriptors = index.store.matrix()
        let block = 256
        for start in stride(from: 0, to: rows.count, by: block) {
            let queries = Array(rows[start..<min(start + block, rows.count)])
            let hits = index.search(descriptors: Matrix(rowVectors: queries.map { descriptors.row($0) }), top: min(top, identifiers.count))
            for (row, ranking) in zip(queries, hits) {
                body(row, ranking.compactMap { hit in position[hit.image].flatMap { $0 == row ? nil : ($0, hit.score) } })
            }
        }
    }

    /// Pairs verified per batch before the batch is appended to the cache: a killed run loses at most
    /// one batch (a few seconds of work) and the next run resumes from the cache.
    public static let verificationBatch = 512

    /// The distinct-inlier score of each pair (`x < y`, store rows), from the index's cache where it has
    /// one, verified on every core otherwise; each verified batch is appended to the cache durably, so
    /// an interrupted run resumes where it stopped and re-runs verify nothing twice. Also returns how
    /// many pairs were verified now.
    static func verifiedInliers(_ pairs: [SIMD2<Int>], index: RetrievalIndex, verifier: SpatialVerifier,
                                progress: (@Sendable (PipelineProgress) -> Void)?) throws -> (inliers: [SIMD2<Int>: Int], verifiedNow: Int) {
        let identifiers = index.store.identifiers
        let position = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let url = cacheURL(index.directory)
        var inliers = readCache(url, identifiers: identifiers, position: position)
        let missing = pairs.filter { inliers[$0] == nil }
        var separator = try missing.isEmpty ? "" : prepareCacheForAppending(url)
        for start in stride(from: 0, to: missing.count, by: verificationBatch) {
            let batch = Array(missing[start..<min(start + verificationBatch, missing.count)])
            let done = start, total = missing.count
            let batchProgress: (@Sendable (PipelineProgress) -> Void)? = progress.map { report in
                { @Sendable step in report(PipelineProgress(completed: done + step.completed, total: total, current: step.current)) }
            }
            let counts = verifier.inlierCounts(batch.map { (first: $0.x, second: $0.y) }, raw: true,
                                               firstFeatures: { index.localFeatures(ofImage: $0) },
                                               secondFeatures: { index.localFeatures(ofImage: $0) },
                                               progress: batchProgress)
            var lines = separator
            separator = ""
            for (pair, count) in zip(batch, counts) {
                inliers[pair] = count
                lines += cacheLine(pair, count, identifiers)
            }
            try DurableFile.append(Data(lines.utf8), to: url)
        }
        return (inliers, missing.count)
    }

    static let cacheHeader = "first\tsecond\tinliers\n"

    /// One record of the cache: the pair's image paths and its inliers.
    static func cacheLine(_ pair: SIMD2<Int>, _ inliers: Int, _ identifiers: [String]) -> String {
        "\(identifiers[pair.x])\t\(identifiers[pair.y])\t\(inliers)\n"
    }

    /// Creates the cache with its header when it does not exist, and returns what must precede the next
    /// record: a newline when a crash cut the last record short, so that it cannot run into the next one.
    static func prepareCacheForAppending(_ url: URL) throws -> String {
        guard let existing = FileManager.default.contents(atPath: url.path) else {
            try DurableFile.write(Data(cacheHeader.utf8), to: url)
            return ""
        }
        return existing.last.map { $0 != UInt8(ascii: "\n") } == true ? "\n" : ""
    }

    // MARK: - Verification in parts (a Spark job, or several machines)

    /// The pairs a graph of `shortlist` neighbours verifies, read from a kNN graph of the index
    /// (`NeighborGraph`, k ≥ shortlist) instead of searching again: every row with its first `shortlist`
    /// neighbours, as unordered pairs in a fixed order, so that every machine cuts the same parts.
    /// - Throws: when the graph belongs to other descriptors or has fewer neighbours than `shortlist`.
    public static func candidatePairs(of index: RetrievalIndex, graph: NeighborGraph, file: String, shortlist: Int) throws(MiningError) -> [SIMD2<Int>] {
        guard graph.indexChecksum == index.store.fingerprint, graph.indexCount == index.store.count, graph.firstRow == 0,
              graph.rows == graph.indexCount else {
            throw MiningError(file: file, reason: "is not the whole kNN graph of \(index.directory.path) (computed on other descriptors, or one block); run `landmark knn` again")
        }
        guard graph.k >= shortlist else {
            throw MiningError(file: file, reason: "holds \(graph.k) neighbours per image, fewer than --shortlist \(shortlist)")
        }
        var pairs = Set<SIMD2<Int>>()
        for row in 0 ..< graph.rows {
            for neighbor in graph.neighbors(of: row).prefix(shortlist) where neighbor >= 0 {
                pairs.insert(SIMD2(min(row, Int(neighbor)), max(row, Int(neighbor))))
            }
        }
        return pairs.sorted { ($0.x, $0.y) < ($1.x, $1.y) }
    }

    /// Verifies the pairs the index's cache does not have yet, on every core (or `verifier.threads`),
    /// and appends them to it. - Returns: the pairs verified now.
    public static func verifyIntoCache(_ pairs: [SIMD2<Int>], index: RetrievalIndex,
                                       verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                                       progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> Int {
        try verifiedInliers(pairs, index: index, verifier: verifier, progress: progress).verifiedNow
    }

    /// Verifies part `part` of `parts` of `pairs` (every `parts`-th pair, so parts take equal work) and
    /// writes the pairs in the cache's format to `url` durably: a task run twice writes the same file.
    /// - Returns: the pairs verified.
    public static func verifyPart(_ index: RetrievalIndex, pairs: [SIMD2<Int>], part: Int, of parts: Int, to url: URL,
                                  verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                                  progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws -> Int {
        guard index.localFeatureStore != nil else {
            throw MiningError(file: index.directory.path, reason: "verification needs local features: index with --local rootsift-asmk")
        }
        let mine = Swift.stride(from: part, to: pairs.count, by: parts).map { pairs[$0] }
        let counts = verifier.inlierCounts(mine.map { (first: $0.x, second: $0.y) }, raw: true,
                                           firstFeatures: { index.localFeatures(ofImage: $0) },
                                           secondFeatures: { index.localFeatures(ofImage: $0) }, progress: progress)
        let identifiers = index.store.identifiers
        var text = cacheHeader
        for (pair, count) in zip(mine, counts) { text += cacheLine(pair, count, identifiers) }
        try DurableFile.write(Data(text.utf8), to: url)
        return mine.count
    }

    /// Adds the pairs of part files (`verifyPart`) to the index's cache, where `build` (and so `landmark
    /// mine` and `landmark clean`) finds them verified. Pairs the cache has already are not added again.
    /// - Returns: the pairs added.
    public static func absorbParts(_ urls: [URL], into index: RetrievalIndex) throws -> Int {
        let identifiers = index.store.identifiers
        let position = Dictionary(identifiers.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        let cache = cacheURL(index.directory)
        var known = readCache(cache, identifiers: identifiers, position: position)
        var lines = ""
        var added = 0
        for url in urls {
            guard FileManager.default.fileExists(atPath: url.path) else {
                throw MiningError(file: url.path, reason: "a verification part is missing; its task did not finish")
            }
            for (pair, count) in readCache(url, identifiers: identifiers, position: position) where known[pair] == nil {
                known[pair] = count
                lines += cacheLine(pair, count, identifiers)
                added += 1
            }
        }
        guard added > 0 else { return 0 }
        try DurableFile.append(Data((try prepareCacheForAppending(cache) + lines).utf8), to: cache)
        return added
    }

    /// Reads the cache; lines for images no longer indexed, damaged lines and a last line cut short by
    /// a crash are ignored (those pairs are verified again). A later line for a pair wins.
    static func readCache(_ url: URL, identifiers: [String], position: [String: Int]) -> [SIMD2<Int>: Int] {
        guard let data = FileManager.default.contents(atPath: url.path), let text = String(data: data, encoding: .utf8) else { return [:] }
        var result: [SIMD2<Int>: Int] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst()
        lines = lines.dropLast()  // empty after the final terminator, or a record a crash cut short
        for line in lines {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3, let a = position[String(fields[0])], let b = position[String(fields[1])], let count = Int(fields[2]) else {
                continue  // a line for images no longer indexed, or damaged: verified again
            }
            result[SIMD2(min(a, b), max(a, b))] = count
        }
        return result
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
