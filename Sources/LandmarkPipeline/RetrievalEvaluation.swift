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
    case string(String), integer(Int), number(Double), boolean(Bool)

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value.isFinite ? value : 0)
        case .boolean(let value): try container.encode(value)
        }
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .boolean(value) }
        else if let value = try? container.decode(Int.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else { self = .string(try container.decode(String.self)) }
    }
}

/// Ranks every image of a dataset for every query and scores the rankings.
public struct RetrievalEvaluation: Sendable {
    public static let kappas = [1, 5, 10]

    public let extraction: DescriptorExtraction
    /// Stages after the first search (METHODS.md §3), in order.
    public var stages: [PipelineDescription.Stage]

    public init(extraction: DescriptorExtraction, stages: [PipelineDescription.Stage] = []) {
        self.extraction = extraction
        self.stages = stages
    }

    /// The descriptor spec and the stages, so a figure names its pipeline.
    var describedPipeline: String {
        ([extraction.extractor.name] + stages.map(\.description)).joined(separator: ",")
    }

    /// Evaluates a folder benchmark (`ground_truth.tsv`): every image with a landmark queries all the
    /// other images; an image that cannot be read is reported as skipped and never retrieved.
    public func evaluate(_ benchmark: FolderBenchmark,
                         progress: (@Sendable (PipelineProgress) -> Void)? = nil) throws(PipelineError) -> (report: RetrievalReport, rankings: [QueryRanking]) {
        let evaluation = PipelineEvaluation(extraction: extraction)
        let pipeline = PipelineDescription(stages: stages)
        let prepared = evaluation.prepare(benchmark, localFeatures: pipeline.needsLocalFeatures, progress: progress)
        let report = try evaluation.evaluate(prepared, pipeline: pipeline, progress: progress)
        return (report.retrieval, report.rankings)
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
        // Queries that could not be described keep an empty ranking (AP 0).
        var queryVectors: [[Float]] = []
        var describedQueries: [Int] = []
        for (position, result) in queryResults.enumerated() {
            switch result {
            case .success(let vector): queryVectors.append(vector); describedQueries.append(position)
            case .failure(let failure): skipped.append(failure)
            }
        }
        var rankings = [[Int]](repeating: [], count: queryResults.count)
        if !vectors.isEmpty, !queryVectors.isEmpty,
           let output = try? RetrievalPipeline(stages: stages).run(
               database: Matrix(stacking: vectors, dimension: dimension),
               queries: Matrix(stacking: queryVectors, dimension: dimension),
               excluded: Array(repeating: nil, count: queryVectors.count), resources: RetrievalResources()) {
            for (position, ranking) in zip(describedQueries, output.rankings) {
                rankings[position] = ranking.map { databaseRows[$0] }
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

extension RetrievalReport {
    /// Scores the rankings of a folder benchmark's queries (`rankings[i]` for `benchmark.queryIndices[i]`,
    /// dataset indices best first) and names them as `--rankings-out` writes them.
    static func folder(_ benchmark: FolderBenchmark, rankings: [[Int]], descriptor: String, skipped: [SkippedImage],
                       secondsDescribing: Double, secondsSearching: Double) -> (report: RetrievalReport, rankings: [QueryRanking]) {
        let queryIndices = benchmark.queryIndices
        let scores = RetrievalMetrics.evaluate(rankings: rankings,
                                               groundTruth: queryIndices.map { benchmark.groundTruth(forQuery: $0) },
                                               kappas: RetrievalEvaluation.kappas)
        let report = RetrievalReport(
            dataset: benchmark.directory.path, protocolName: "folder", descriptor: descriptor,
            queries: scores.evaluatedQueryCount, meanAveragePrecision: scores.meanAveragePrecision,
            meanPrecisionAt: scores.meanPrecisionAtK, skipped: skipped,
            secondsDescribing: secondsDescribing, secondsSearching: secondsSearching)
        let named = zip(queryIndices, rankings).map { query, ranking in
            QueryRanking(query: benchmark.images[query], ranking: ranking.map { benchmark.images[$0] })
        }
        return (report, named)
    }
}
