import ArgumentParser
import Foundation
import LandmarkImage
import LandmarkPipeline

struct SearchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Rank the images of an index by similarity to each query photograph.")

    @Argument(help: "Index directory made by `landmark index`.")
    var indexDirectory: String

    @Argument(help: "Query photographs.")
    var queries: [String]

    @Option(name: .customLong("top"), help: "Results per query.")
    var top: Int = 10

    @Option(help: "Ranking for an index with both parts: global (default) or asmk. A local-only index always uses asmk.")
    var retrieval: RetrievalMethod?

    @Flag(help: "One JSON object per query and line: {\"query\": …, \"results\": [{\"image\": …, \"score\": …}]}.")
    var json = false

    func validate() throws {
        guard top > 0 else { throw ValidationError("--top must be positive") }
        guard !queries.isEmpty else { throw ValidationError("give at least one query image") }
    }

    struct QueryOutput: Encodable {
        var query: String
        var results: [SearchHit]?
        var error: String?
    }

    func run() throws {
        let index: RetrievalIndex
        do {
            index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory))
        } catch {
            throw fail(error)
        }
        let outcomes: [Result<[SearchHit], SkippedImage>]
        do {
            outcomes = try index.search(images: queries.map { URL(fileURLWithPath: $0) }, top: top,
                                        retrieval: retrieval ?? index.defaultRetrieval)
        } catch {
            throw fail(error)
        }
        var anySkipped = false
        for (query, outcome) in zip(queries, outcomes) {
            switch outcome {
            case .success(let hits):
                if json {
                    print(JSONOutput.line(QueryOutput(query: query, results: hits)))
                } else {
                    print(query)
                    for (rank, hit) in hits.enumerated() {
                        print(String(format: "  %3d  %.4f  %@", rank + 1, hit.score, hit.image))
                    }
                }
            case .failure(let skipped):
                anySkipped = true
                Console.error("warning: skipped query \(query): \(skipped.reason)")
                if json { print(JSONOutput.line(QueryOutput(query: query, error: skipped.reason))) }
            }
        }
        if anySkipped { throw LandmarkExitCode.someInputsSkipped }
    }
}

extension RetrievalMethod: ExpressibleByArgument {}
