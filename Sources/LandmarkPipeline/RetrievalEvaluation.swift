import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkReranking

/// The ranking one query produced, in the form `--rankings-out` writes: one JSON object a line.
public struct QueryRanking: Sendable, Codable, Equatable {
    public var query: String
    /// Every other image of the dataset, best first, named as in the ground truth.
    public var ranking: [String]
}

/// Retrieval figures of one evaluation (one protocol of one dataset).
public struct RetrievalReport: Sendable, Codable, Equatable {
    public var dataset: String
    /// "folder", or the revisited protocol: "easy", "medium", "hard".
    public var protocolName: String
    public var descriptor: String
    public var queries: Int
    public var meanAveragePrecision: Double
    public var meanPrecisionAt: [Int: Double]
    public var skipped: [SkippedImage]
    public var secondsDescribing: Double
    public var secondsSearching: Double

    /// The flat JSON object scripts read: `{"queries": n, "mAP": x, "mP@1": …, "mP@5": …, "mP@10": …}`.
    public var summary: [String: JSONScalar] {
        var object: [String: JSONScalar] = [
            "dataset": .string(dataset), "protocol": .string(protocolName), "descriptor": .string(descriptor),
            "queries": .integer(queries), "mAP": .number(meanAveragePrecision),
            "skipped": .integer(skipped.count),
            "seconds_describing": .number(secondsDescribing), "seconds_searching": .number(secondsSearching),
        ]
        for (k, value) in meanPrecisionAt { object["mP@\(k)"] = .number(value) }
        return object
    }
}

/// A JSON value of a flat report, so reports print with stable key order and plain numbers.
public enum JSONScalar: Sendable, Equatable, Codable {
    case string(String), integer(Int), number(Double)

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value.isFinite ? value : 0)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else { self = .string(try container.decode(String.self)) }
    }
}

/// Ranks every image of a dataset for every query and scores the rankings.
public struct RetrievalEvaluation: Sendable {
    public static let kappas = [1, 5, 10]

    public let extraction: DescriptorExtraction
    /// Spatial verification of the top `depth` results of every query, verified ones moved ahead.
    public var spatialReranking: (verifier: SpatialVerifier, depth: Int)?

    public init(extraction: DescriptorExtraction, spatialReranking: (verifier: SpatialVerifier, depth: Int)? = nil) {
        self.extraction = extraction
        self.spatialReranking = spatialReranking
    }

    /// The descriptor spec, plus the re-ranking stage when there is one, so a figure names its pipeline.
    var describedPipeline: String {
        guard let (verifier, depth) = spatialReranking else { return extraction.extractor.name }
        return extraction.extractor.name + " + spatial rerank depth=\(depth) min-inliers=\(verifier.minimumInliers)"
    }

    /// Re-ranks every query's ranking by spatial verification (images are dataset indices).
    func spatiallyReranked(_ rankings: [Int: [Int]], urls: [URL],
                           progress: (@Sendable (PipelineProgress) -> Void)?) -> [Int: [Int]] {
        guard let (verifier, depth) = spatialReranking else { return rankings }
        let features = FeatureSlots(count: urls.count)
        let counter = ProgressCounter(total: urls.count, report: progress)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        // One image per core, each extraction on one thread.
        let extractor = { () -> SpatialVerifier in
            var singleThreaded = verifier
            singleThreaded.sift.configuration.threads = 1
            return singleThreaded
        }()
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            var index = worker
            while index < urls.count {
                features.set(index, try? extractor.features(of: urls[index]).get().features)
                counter.advance(current: urls[index].lastPathComponent)
                index += cores
            }
        }
        let extracted = features.values
        let queries = rankings.keys.sorted()
        let reranked = RankingSlots(count: queries.count)
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            var position = worker
            while position < queries.count {
                let query = queries[position]
                let ranking = rankings[query] ?? []
                var inliers: [Int: Int] = [:]
                if let queryFeatures = extracted[query] {
                    for candidate in ranking.prefix(depth) {
                        guard let candidateFeatures = extracted[candidate] else { continue }
                        inliers[candidate] = verifier.verify(queryFeatures, candidateFeatures).inlierCount
                    }
                }
                reranked.set(position, SpatialReranking.rerank(ranking, depth: depth) { inliers[$0] ?? 0 })
                position += cores
            }
        }
        let values = reranked.values
        return Dictionary(uniqueKeysWithValues: queries.enumerated().map { ($1, values[$0]) })
    }

    /// Evaluates a folder benchmark (`ground_truth.tsv`): every image with a landmark queries all the
    /// other images; an image that cannot be read is reported as skipped and never retrieved.
    public func evaluate(_ benchmark: FolderBenchmark,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> (report: RetrievalReport, rankings: [QueryRanking]) {
        let describeStart = Date()
        let items = benchmark.images.indices.map {
            ExtractionItem(url: benchmark.imageURL($0), name: benchmark.images[$0])
        }
        let results = extraction.describeAll(items, progress: progress)
        let describeSeconds = Date().timeIntervalSince(describeStart)

        let searchStart = Date()
        var databaseRows: [Int] = []       // dataset index of each descriptor row
        var vectors: [[Float]] = []
        var skipped: [SkippedImage] = []
        for (index, result) in results.enumerated() {
            switch result {
            case .success(let vector):
                databaseRows.append(index)
                vectors.append(vector)
            case .failure(let failure):
                skipped.append(failure)
            }
        }
        let dimension = extraction.extractor.dimension
        let database = Matrix(stacking: vectors, dimension: dimension)
        var rowOfImage = [Int?](repeating: nil, count: benchmark.images.count)
        for (row, index) in databaseRows.enumerated() { rowOfImage[index] = row }

        let queryIndices = benchmark.queryIndices
        let describedQueries = queryIndices.filter { rowOfImage[$0] != nil }
        var queryVectors: [[Float]] = []
        for query in describedQueries {
            if let row = rowOfImage[query] { queryVectors.append(database.row(row)) }
        }
        let neighbours = ExactSearch(database: database)
            .search(Matrix(stacking: queryVectors, dimension: dimension), k: database.rows)
        var rankingOfQuery: [Int: [Int]] = [:]
        for (query, hits) in zip(describedQueries, neighbours) {
            rankingOfQuery[query] = hits.map { databaseRows[$0.index] }.filter { $0 != query }
        }
        rankingOfQuery = spatiallyReranked(rankingOfQuery, urls: benchmark.images.indices.map { benchmark.imageURL($0) },
                                           progress: progress)
        // A query that could not be read still counts, with an empty ranking (AP 0), so that a
        // broken file cannot make the figures look better.
        let rankings = queryIndices.map { rankingOfQuery[$0] ?? [] }
        let groundTruth = queryIndices.map { benchmark.groundTruth(forQuery: $0) }
        let scores = RetrievalMetrics.evaluate(rankings: rankings, groundTruth: groundTruth, kappas: Self.kappas)
        let searchSeconds = Date().timeIntervalSince(searchStart)

        let report = RetrievalReport(
            dataset: benchmark.directory.path, protocolName: "folder", descriptor: describedPipeline,
            queries: scores.evaluatedQueryCount, meanAveragePrecision: scores.meanAveragePrecision,
            meanPrecisionAt: scores.meanPrecisionAtK, skipped: skipped,
            secondsDescribing: describeSeconds, secondsSearching: searchSeconds)
        let named = zip(queryIndices, rankings).map { query, ranking in
            QueryRanking(query: benchmark.images[query], ranking: ranking.map { benchmark.images[$0] })
        }
        return (report, named)
    }

    /// Evaluates a revisited Oxford/Paris dataset under its three protocols; queries are cropped to their
    /// bounding boxes, as the benchmark prescribes.
    public func evaluate(_ dataset: RevisitedDataset,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> (reports: [RetrievalReport], rankings: [QueryRanking]) {
        let describeStart = Date()
        let databaseItems = dataset.imageNames.map { ExtractionItem(url: dataset.imageURL($0), name: $0) }
        let queryItems = zip(dataset.queryNames, dataset.queries).map { name, query in
            ExtractionItem(url: dataset.imageURL(name), name: name,
                           cropBox: (query.boundingBox.x0, query.boundingBox.y0, query.boundingBox.x1, query.boundingBox.y1))
        }
        let total = databaseItems.count + queryItems.count
        let databaseResults = extraction.describeAll(databaseItems) { step in
            progress?(PipelineProgress(completed: step.completed, total: total, current: step.current))
        }
        let queryResults = extraction.describeAll(queryItems) { step in
            progress?(PipelineProgress(completed: databaseItems.count + step.completed, total: total, current: step.current))
        }
        let describeSeconds = Date().timeIntervalSince(describeStart)

        let searchStart = Date()
        let dimension = extraction.extractor.dimension
        var skipped: [SkippedImage] = []
        var databaseRows: [Int] = []
        var vectors: [[Float]] = []
        for (index, result) in databaseResults.enumerated() {
            switch result {
            case .success(let vector): databaseRows.append(index); vectors.append(vector)
            case .failure(let failure): skipped.append(failure)
            }
        }
        let search = ExactSearch(database: Matrix(stacking: vectors, dimension: dimension))
        var rankings: [[Int]] = []
        for result in queryResults {
            switch result {
            case .success(let vector):
                let hits = search.search(Matrix(rows: 1, columns: dimension, storage: vector), k: vectors.count)
                rankings.append(hits.first?.map { databaseRows[$0.index] } ?? [])
            case .failure(let failure):
                skipped.append(failure)
                rankings.append([])
            }
        }
        let searchSeconds = Date().timeIntervalSince(searchStart)
        let reports = RevisitedProtocol.allCases.map { protocolCase in
            let scores = RetrievalMetrics.evaluate(rankings: rankings, groundTruth: dataset.groundTruth(protocolCase),
                                                   kappas: Self.kappas)
            return RetrievalReport(
                dataset: dataset.name, protocolName: protocolCase.rawValue, descriptor: describedPipeline,
                queries: scores.evaluatedQueryCount, meanAveragePrecision: scores.meanAveragePrecision,
                meanPrecisionAt: scores.meanPrecisionAtK, skipped: skipped,
                secondsDescribing: describeSeconds, secondsSearching: searchSeconds)
        }
        let named = zip(dataset.queryNames, rankings).map { name, ranking in
            QueryRanking(query: name, ranking: ranking.map { dataset.imageNames[$0] })
        }
        return (reports, named)
    }
}

/// Slots written by worker threads at distinct indices.
private final class FeatureSlots: @unchecked Sendable {
    private var storage: [LocalFeatures?]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: LocalFeatures?) { lock.lock(); storage[index] = value; lock.unlock() }
    var values: [LocalFeatures?] { lock.lock(); defer { lock.unlock() }; return storage }
}

private final class RankingSlots: @unchecked Sendable {
    private var storage: [[Int]]
    private let lock = NSLock()
    init(count: Int) { storage = Array(repeating: [], count: count) }
    func set(_ index: Int, _ value: [Int]) { lock.lock(); storage[index] = value; lock.unlock() }
    var values: [[Int]] { lock.lock(); defer { lock.unlock() }; return storage }
}
