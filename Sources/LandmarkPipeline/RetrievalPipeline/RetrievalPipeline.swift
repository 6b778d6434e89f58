import Foundation
import LandmarkGeometry
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkReranking

/// What the stages after the first search may draw on besides the descriptors.
public struct RetrievalResources: Sendable {
    /// Local features of a database row / of a query, for spatial verification (nil: not available).
    public var databaseFeatures: (@Sendable (Int) -> LocalFeatures?)?
    public var queryFeatures: (@Sendable (Int) -> LocalFeatures?)?
    /// Matching and RANSAC settings; each spatial stage sets its own inlier threshold.
    public var verifier: SpatialVerifier
    /// Predicted landmark of every database row and of every query, for discriminative re-ranking.
    public var databaseLabels: [String?]?
    public var queryLabels: [String?]?
    /// ASMK similarity of a query (by position) to every database row, for score fusion (nil: not available).
    public var asmkScores: (@Sendable (Int) -> [Float])?
    /// The mutual kNN graph for diffusion over the database as it stands after `stagesBefore`, from a cache
    /// (an index directory keeps it like the DBA descriptors); built on the spot when nil or when it returns nil.
    public var diffusionGraph: (@Sendable (_ neighbours: Int, _ stagesBefore: [PipelineDescription.Stage], _ database: Matrix) -> DiffusionGraph?)?

    public init(databaseFeatures: (@Sendable (Int) -> LocalFeatures?)? = nil,
                queryFeatures: (@Sendable (Int) -> LocalFeatures?)? = nil,
                verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC),
                databaseLabels: [String?]? = nil, queryLabels: [String?]? = nil) {
        self.databaseFeatures = databaseFeatures
        self.queryFeatures = queryFeatures
        self.verifier = verifier
        self.databaseLabels = databaseLabels
        self.queryLabels = queryLabels
    }
}

/// Time one stage took, over all queries.
public struct StageTiming: Sendable, Codable, Equatable {
    public var stage: String
    public var seconds: Double
}

/// Runs the stages of a `PipelineDescription` after the first search (METHODS.md §3) on descriptors in
/// memory: database-side augmentation, query expansion, spatial verification, discriminative query
/// expansion and discriminative re-ranking. Rankings are database rows, best first.
public struct RetrievalPipeline: Sendable {
    public var stages: [PipelineDescription.Stage]

    /// Non-matching pairs run RANSAC to its iteration cap; 2000 keeps re-ranking a list affordable while a
    /// true match (many inliers) still stops after a few dozen iterations.
    public static let rerankingRANSAC: RANSACConfiguration = {
        var configuration = RANSACConfiguration()
        configuration.maximumIterations = 2000
        return configuration
    }()

    /// The index the first search (and every re-search after DBA or αQE) runs on. Exact by default;
    /// an approximate one is built over the database as it stands (again after DBA changes it).
    public var searchIndex: IndexFactory = .defaultFactory
    /// nprobe / efSearch / re-ranking depth of an approximate `searchIndex`.
    public var searchParameters = SearchParameters()
    /// An index already built over `database` as given to `run` — an index directory's own search
    /// index — searched instead of exact search or a new `searchIndex`, until database-side
    /// augmentation changes the database.
    public var databaseIndex: (any VectorIndex)?

    public init(stages: [PipelineDescription.Stage], searchIndex: IndexFactory = .defaultFactory,
                searchParameters: SearchParameters = SearchParameters()) {
        self.stages = stages
        self.searchIndex = searchIndex
        self.searchParameters = searchParameters
    }

    /// The result of a run.
    public struct Output: Sendable {
        /// Per query, database rows best first (the excluded row removed), `depth` long at most.
        public var rankings: [[Int]]
        /// "search" first, then one entry per stage.
        public var timings: [StageTiming]
        /// With `keepEveryStage`: the rankings after the search and after each stage (an ablation's rows).
        public var rankingsAfterEachStage: [[[Int]]] = []
    }

    /// Ranks `database` for every row of `queries`. `excluded[q]` is a database row never returned for
    /// query q (the query itself when it belongs to the database). `depth` bounds every ranking; the full
    /// database when nil. `keepEveryStage` also returns the rankings after every stage, so an ablation
    /// runs the pipeline once instead of once per prefix.
    public func run(database original: Matrix, queries original_queries: Matrix, excluded: [Int?],
                    resources: RetrievalResources, depth: Int? = nil, keepEveryStage: Bool = false,
                    progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> Output {
        var database = original
        var queries = original_queries
        let count = database.rows
        let listLength = min(count, depth ?? count)
        var timings: [StageTiming] = []

        // The approximate index of the current database, built when first searched and dropped when
        // database-side augmentation changes the database.
        precondition(databaseIndex.map { $0.count == count && $0.dimension == database.columns } ?? true,
                     "the database index must cover the database's rows")
        var approximate: (any VectorIndex)? = databaseIndex
        func search() throws(PipelineError) -> [[Neighbor]] {
            // One extra, so that dropping the excluded row still leaves `listLength` results.
            let k = min(count, listLength + 1)
            let hits: [[Neighbor]]
            if let approximate {
                hits = approximate.search(queries, k: k, parameters: searchParameters)
            } else if searchIndex.isExact {
                hits = ExactSearch(database: database).search(queries, k: k)
            } else {
                if approximate == nil {
                    do {
                        approximate = try VectorIndexBuilder.build(searchIndex, rows: DatabaseRows(database), progress: nil)
                    } catch {
                        throw PipelineError(code: .invalidRequest, file: error.file, reason: error.reason)
                    }
                }
                hits = approximate?.search(queries, k: k, parameters: searchParameters) ?? []
            }
            return hits.enumerated().map { query, list in
                Array(list.lazy.filter { $0.index != excluded[query] }.prefix(listLength))
            }
        }
        func timed<T>(_ name: String, _ body: () throws(PipelineError) -> T) throws(PipelineError) -> T {
            let start = Date()
            let value = try body()
            timings.append(StageTiming(stage: name, seconds: Date().timeIntervalSince(start)))
            return value
        }

        var results = try timed("search") { () throws(PipelineError) in try search() }
        var rankings = results.map { $0.map(\.index) }
        // Spatially verified rows per query, for discriminative query expansion.
        var verified: [Set<Int>] = Array(repeating: [], count: queries.rows)
        var snapshots: [[[Int]]] = keepEveryStage ? [rankings] : []

        for (position, stage) in stages.enumerated() {
            switch stage {
            case .databaseAugmentation(let neighbours, let alpha):
                results = try timed(stage.description) { () throws(PipelineError) in
                    database = DatabaseAugmentation(neighbours: neighbours, alpha: alpha).augment(database)
                    approximate = nil
                    return try search()
                }
                rankings = results.map { $0.map(\.index) }
            case .queryExpansion(let neighbours, let alpha):
                results = try timed(stage.description) { () throws(PipelineError) in
                    let current = zip(rankings, queries.rowIndices).map { ranking, query in
                        ranking.prefix(neighbours).map { row in
                            Neighbor(index: row, score: Self.dot(queries, query, database, row))
                        }
                    }
                    queries = QueryExpansion(neighbours: neighbours, alpha: alpha)
                        .expand(queries: queries, database: database, results: current)
                    return try search()
                }
                rankings = results.map { $0.map(\.index) }
            case .spatialVerification(let depth, let minimumInliers):
                guard let databaseFeatures = resources.databaseFeatures, let queryFeatures = resources.queryFeatures else {
                    throw PipelineError(code: .invalidRequest, file: "",
                                        reason: "\(stage): spatial verification needs local features (index with --local, or evaluate a dataset)")
                }
                var verifier = resources.verifier
                verifier.minimumInliers = minimumInliers
                let current = rankings
                let outcome = try timed(stage.description) {
                    Self.spatiallyVerify(current, depth: depth, verifier: verifier, databaseFeatures: databaseFeatures,
                                         queryFeatures: queryFeatures, progress: progress)
                }
                rankings = outcome.rankings
                verified = outcome.verified
            case .discriminativeQueryExpansion(let depth):
                let currentQueries = queries, currentDatabase = database, current = rankings, positives = verified
                rankings = try timed(stage.description) {
                    let expansion = DiscriminativeQueryExpansion(depth: depth)
                    return current.indices.map { query in
                        expansion.rerank(query: currentQueries.row(query), database: currentDatabase,
                                         ranking: current[query], positives: Array(positives[query]).sorted(),
                                         excluded: excluded[query])
                    }
                }
            case .discriminativeReranking(let depth):
                guard let databaseLabels = resources.databaseLabels, let queryLabels = resources.queryLabels,
                      databaseLabels.count == count, queryLabels.count == queries.rows else {
                    throw PipelineError(code: .invalidRequest, file: "",
                                        reason: "\(stage): discriminative re-ranking needs a labelled train set (--train-index and --train-labels)")
                }
                let currentQueries = queries, currentDatabase = database, current = rankings
                rankings = try timed(stage.description) {
                    var rowsOfLabel: [String: [Int]] = [:]
                    for (row, label) in databaseLabels.enumerated() {
                        if let label { rowsOfLabel[label, default: []].append(row) }
                    }
                    return current.indices.map { query -> [Int] in
                        guard let label = queryLabels[query] else { return current[query] }
                        let candidates = (rowsOfLabel[label] ?? []).filter { $0 != excluded[query] }
                        return DiscriminativeReranking.rerank(
                            current[query], depth: depth, queryLabel: label, candidates: candidates,
                            label: { databaseLabels[$0] },
                            similarity: { Self.dot(currentQueries, query, currentDatabase, $0) })
                    }
                }
            case .scoreFusion(let depth, let weight):
                guard let asmkScores = resources.asmkScores else {
                    throw PipelineError(code: .invalidRequest, file: "",
                                        reason: "\(stage): score fusion needs ASMK (index with --local rootsift-asmk, or evaluate a dataset)")
                }
                let currentQueries = queries, currentDatabase = database, current = rankings
                rankings = try timed(stage.description) {
                    current.indices.map { query in
                        let local = asmkScores(query)
                        return ScoreFusion.rerank(current[query], depth: depth, weight: weight,
                                                  global: { Self.dot(currentQueries, query, currentDatabase, $0) },
                                                  local: { $0 < local.count ? local[$0] : -.infinity })
                    }
                }
            case .diffusion(let neighbours, let queryNeighbours, let alpha, let truncation):
                let currentQueries = queries, currentDatabase = database, current = rankings
                let before = Array(stages.prefix(position))
                rankings = try timed(stage.description) {
                    let graph = resources.diffusionGraph?(neighbours, before, currentDatabase)
                        ?? DiffusionGraph(database: currentDatabase, neighbours: neighbours)
                    let diffusion = Diffusion(queryNeighbours: queryNeighbours, alpha: Double(alpha), truncation: truncation)
                    return current.indices.map { query in
                        let similarities = currentDatabase.multiplied(by: currentQueries.row(query))
                        let scores = diffusion.scores(similarities: similarities, graph: graph, exponent: graph.exponent,
                                                      excluded: excluded[query])
                        return diffusion.rerank(current[query], scores: scores)
                    }
                }
            }
            if keepEveryStage { snapshots.append(rankings) }
        }
        return Output(rankings: rankings, timings: timings, rankingsAfterEachStage: snapshots)
    }

    static func dot(_ a: Matrix, _ rowA: Int, _ b: Matrix, _ rowB: Int) -> Float {
        a.storage.withUnsafeBufferPointer { left in
            b.storage.withUnsafeBufferPointer { right in
                var sum: Float = 0
                let columns = a.columns, x = rowA * columns, y = rowB * columns
                for column in 0..<columns { sum += left[x + column] * right[y + column] }
                return sum
            }
        }
    }

    /// Verifies the top `depth` of every ranking and moves verified results ahead. The pairs of all
    /// queries are verified together, so a single query uses every core.
    static func spatiallyVerify(_ rankings: [[Int]], depth: Int, verifier: SpatialVerifier,
                                databaseFeatures: @escaping @Sendable (Int) -> LocalFeatures?,
                                queryFeatures: @escaping @Sendable (Int) -> LocalFeatures?,
                                progress: (@Sendable (PipelineProgress) -> Void)?) -> (rankings: [[Int]], verified: [Set<Int>]) {
        var pairs: [(first: Int, second: Int)] = []
        for (query, ranking) in rankings.enumerated() {
            for candidate in ranking.prefix(depth) { pairs.append((query, candidate)) }
        }
        let counts = verifier.inlierCounts(pairs, firstFeatures: queryFeatures, secondFeatures: databaseFeatures,
                                           progress: progress)
        var inliers = [[Int: Int]](repeating: [:], count: rankings.count)
        for (pair, count) in zip(pairs, counts) where count > 0 { inliers[pair.first][pair.second] = count }
        let reranked = rankings.indices.map { query in
            SpatialReranking.rerank(rankings[query], depth: depth) { inliers[query][$0] ?? 0 }
        }
        return (reranked, inliers.map { Set($0.keys) })
    }
}

extension Matrix {
    var rowIndices: Range<Int> { 0..<rows }
}
