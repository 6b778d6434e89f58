import ArgumentParser
import Foundation
import LandmarkMining
import LandmarkPipeline
import LandmarkSpark

struct MatchGraphCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "match-graph",
        abstract: "Spatially verify every image's shortlist from a kNN graph, into the index's verified-pair cache.",
        discussion: """
        The costly half of `landmark mine` and `landmark clean`, on its own so it can run on Spark: the pairs \
        are each image's --shortlist nearest neighbours in the kNN graph (`landmark knn`), verified with \
        RootSIFT + RANSAC and added to INDEX/match-graph.tsv, where mine and clean (with the same \
        --shortlist) find them. --part K/N verifies every N-th pair into a file (a Spark task); \
        --spark-master runs all parts as Spark tasks.

        Example:
          landmark knn index --k 20 --out graph.lmk --spark-master 'local[2]'
          landmark match-graph index --knn graph.lmk --shortlist 20 --spark-master 'local[2]'
          landmark mine index --shortlist 20 --out mined
        """)

    @Argument(help: "Index directory with global descriptors and local features (--local rootsift-asmk).")
    var indexDirectory: String

    @Option(help: "kNN graph of the index (`landmark knn`), with at least --shortlist neighbours.")
    var knn: String

    @Option(parsing: .unconditional, help: "Neighbours of every image to verify.")
    var shortlist: Int = 20

    @Option(parsing: .unconditional, help: ArgumentHelp("Verify only every N-th pair from the K-th, into --out.", valueName: "K/N"))
    var part: String?

    @Option(name: .customLong("out"), help: "With --part: the file the verified pairs go to.")
    var output: String?

    @Option(parsing: .unconditional, help: "Cores the verification uses (default: all).")
    var threads: Int?

    @OptionGroup(title: "Spark")
    var spark: SparkOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard shortlist >= 1 else { throw ValidationError("--shortlist must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if part != nil {
            guard output != nil, spark.master == nil else { throw ValidationError("--part needs --out, and runs without --spark-master") }
            _ = try parsedPart()
        }
    }

    func parsedPart() throws -> (number: Int, count: Int) { try parsePart(part, option: "--part") }

    private struct Summary: Encodable {
        var pairs: Int
        var verified: Int
    }

    func run() throws {
        try reportingFailures {
            if let master = spark.master {
                let summary = try DistributedVerification.run(
                    index: URL(fileURLWithPath: indexDirectory), graph: URL(fileURLWithPath: knn), shortlist: shortlist, parts: spark.tasks,
                    executable: try spark.executable(), on: try spark.cluster(master: master)) { Console.error($0) }
                print(json ? JSONOutput.line(summary)
                           : "verified \(summary.pairs) pairs on Spark (\(summary.parts) parts, \(summary.rounds) round\(summary.rounds == 1 ? "" : "s"), \(String(format: "%.1f", summary.seconds)) s); \(summary.added) added to the cache")
                return
            }
            let index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory))
            let pairs = try MatchGraph.candidatePairs(of: index, graph: try NeighborGraph.read(URL(fileURLWithPath: knn)), file: knn, shortlist: shortlist)
            var verifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC)
            verifier.threads = threads
            let verified: Int
            if let output {
                let (number, count) = try parsedPart()
                verified = try MatchGraph.verifyPart(index, pairs: pairs, part: number, of: count, to: URL(fileURLWithPath: output), verifier: verifier)
            } else {
                let progress = ProgressBar(label: "verifying", enabled: !json)
                verified = try MatchGraph.verifyIntoCache(pairs, index: index, verifier: verifier, progress: progress.handler)
            }
            print(json ? JSONOutput.line(Summary(pairs: pairs.count, verified: verified))
                       : "verified \(verified) of \(pairs.count) pairs\(output.map { " into \($0)" } ?? " into the index's cache")")
        }
    }
}
