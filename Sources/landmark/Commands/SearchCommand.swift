import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkPipeline
import LandmarkRecognition

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Rank the images of an index by similarity to each query photograph.")

    @Argument(help: "Index directory made by `landmark index`.")
    var indexDirectory: String

    @Argument(help: "Query photographs.")
    var queries: [String]

    // Unconditional, so that `--top -1` reads as a number (and is refused as one) instead of an unknown flag.
    @Option(name: .customLong("top"), parsing: .unconditional, help: "Results per query.")
    var top: Int = 10

    @Option(help: "Ranking for an index with both parts: global (default) or asmk. A local-only index always uses asmk.")
    var retrieval: RetrievalMethod?

    @Option(help: "Pipeline after the global search, e.g. aqe2,spatial100,dqe100, or a preset (best); see `landmark evaluate --help`. spatial needs an index built with --local; dre needs --train-index.")
    var pipeline: String?

    @Option(help: "Labelled train index for the dre stage.")
    var trainIndex: String?

    @Option(help: "Labels of the train index (default: its folder's ground_truth.tsv).")
    var trainLabels: String?

    @Option(parsing: .unconditional, help: "With dre: train neighbours voting for each image's label.")
    var neighbours: Int = 3

    @Option(parsing: .unconditional, help: "With dre: confidence below which an image gets no label (and is neither moved nor inserted).")
    var minConfidence: Double = 0

    @OptionGroup(title: "Approximate search (indexes built with --index IVF…/HNSW…)")
    var searchOptions: SearchParameterOptions

    @OptionGroup(title: "Vector database (search the index's vectors where `landmark db push` put them)")
    var database: DatabaseOptions

    @Flag(help: "One JSON object per query and line: {\"query\": …, \"results\": [{\"image\": …, \"score\": …}]}.")
    var json = false

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard neighbours > 0 else { throw ValidationError("--neighbours must be positive") }
        guard !queries.isEmpty else { throw ValidationError("give at least one query image") }
    }

    struct QueryOutput: Encodable {
        var query: String
        var results: [SearchHit]?
        var error: String?
    }

    func run() throws {
        var index: RetrievalIndex
        do {
            index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory))
        } catch {
            throw fail(error)
        }
        index.searchParameters = searchOptions.parameters
        if let url = database.url { try database.attach(to: &index, url: url) }
        let outcomes: [Result<[SearchHit], SkippedImage>]
        let urls = queries.map { URL(fileURLWithPath: $0) }
        let description = try pipelineDescription(for: index)
        do {
            if let description {
                var trainSet: TrainSet?
                if let trainIndex {
                    trainSet = try TrainSet.load(indexDirectory: trainIndex, labelsPath: trainLabels,
                                                 descriptor: index.manifest.descriptor,
                                                 recognition: KNNRecognition(neighbours: neighbours, inlierWeight: 0,
                                                                             minimumConfidence: minConfidence))
                }
                outcomes = try index.search(images: urls, top: top, pipeline: description, trainSet: trainSet)
            } else {
                outcomes = try index.search(images: urls, top: top, retrieval: retrieval ?? index.defaultRetrieval)
            }
        } catch {
            throw fail(error)
        }
        var skippedCount = 0
        for (query, outcome) in zip(queries, outcomes) {
            switch outcome {
            case .success(let hits):
                if json {
                    print(JSONOutput.line(QueryOutput(query: query, results: hits)))
                } else {
                    print(Console.line(query))
                    for (rank, hit) in hits.enumerated() {
                        print(String(format: "  %3d  %.4f  ", rank + 1, hit.score) + Console.line(hit.image))
                    }
                }
            case .failure(let skipped):
                skippedCount += 1
                Console.error("warning: skipped query \(query): \(skipped.reason)")
                if json { print(JSONOutput.line(QueryOutput(query: query, error: skipped.reason))) }
            }
        }
        if let exit = LandmarkExitCode.forSkipped(skippedCount, of: queries.count) { throw exit }
    }
}

extension SearchCommand {
    /// The pipeline to run, nil for a plain search; its descriptor, if named, must be the index's.
    func pipelineDescription(for index: RetrievalIndex) throws -> PipelineDescription? {
        guard let pipeline else { return nil }
        let description: PipelineDescription
        do {
            description = try PipelineDescription.parse(pipeline)
        } catch {
            throw ValidationError(error.reason)
        }
        if description.retrieval == .asmk {
            throw ValidationError("search pipelines run on the index's global descriptor; for ASMK use --retrieval asmk")
        }
        try checkPipelineDescriptor(description, matches: index)
        if description.needsTrainSet && trainIndex == nil {
            throw ValidationError("pipeline '\(description)' has a dre stage: give --train-index (and --train-labels)")
        }
        return description.stages.isEmpty ? nil : description
    }
}

/// A pipeline that names its descriptor must name the one the index was built with: the index's stored
/// descriptors are what gets searched, so any other name would only mislabel the results.
func checkPipelineDescriptor(_ description: PipelineDescription, matches index: RetrievalIndex) throws {
    let named: (token: String, name: String)
    switch description.retrieval {
    case .descriptorOptions, .asmk: return
    case .baseline: named = ("baseline", GradientColourHistogramBaseline.name)
    case .cnn(let configuration, let token): named = (token, configuration.name)
    }
    guard named.name == index.manifest.descriptor else {
        throw ValidationError("pipeline names '\(named.token)' (\(named.name)) but the index was built with '\(index.manifest.descriptor)'; leave the descriptor out of --pipeline")
    }
}

extension RetrievalMethod: ExpressibleByArgument {}
