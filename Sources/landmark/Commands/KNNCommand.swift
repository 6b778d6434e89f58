import ArgumentParser
import Foundation
import LandmarkMining
import LandmarkPipeline
import LandmarkSpark

struct KNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knn",
        abstract: "Compute the kNN graph of an index: the k most similar other images of every image.",
        discussion: """
        The graph (.lmk) is what cleaning and mining start from. --rows computes one block of rows (what a \
        Spark task or another machine runs); --spark-master cuts the rows into blocks, runs them as Spark \
        tasks and joins them into the same file one process writes. --tsv prints the graph as text.

        Examples:
          landmark knn index --k 10 --out graph.lmk
          landmark knn index --k 10 --out graph.lmk --spark-master 'local[2]'
          landmark knn --tsv graph.lmk --index index | head
        """)

    @Argument(help: "Index directory (or, with --tsv, a graph file).")
    var input: String

    @Option(parsing: .unconditional, help: "Neighbours per image.")
    var k: Int = 10

    @Option(name: .customLong("out"), help: "Graph file to write.")
    var output: String?

    @Option(help: ArgumentHelp("Compute only index rows A ..< B.", valueName: "A:B"))
    var rows: String?

    @Option(parsing: .unconditional, help: "Cores the search uses (default: all).")
    var threads: Int?

    @Flag(help: "Print the graph file INPUT as tab-separated image, neighbour, rank, score (image paths with --index).")
    var tsv = false

    @Option(name: .customLong("index"), help: "With --tsv: the index whose image paths name the rows.")
    var namesIndex: String?

    @OptionGroup(title: "Spark")
    var spark: SparkOptions

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        guard k >= 1 else { throw ValidationError("--k must be at least 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if !tsv, output == nil { throw ValidationError("give --out GRAPH (or --tsv to print a graph file)") }
        if rows != nil, spark.master != nil { throw ValidationError("--rows computes one block; --spark-master computes them all") }
    }

    func run() throws {
        try reportingFailures {
            if tsv { return try printGraph() }
            guard let output else { return }
            let outputURL = URL(fileURLWithPath: output)
            if let master = spark.master {
                let summary = try DistributedNeighborGraph.run(
                    index: URL(fileURLWithPath: input), k: k, output: outputURL, blocks: spark.tasks, executable: try spark.executable(),
                    on: try spark.cluster(master: master)) { Console.error($0) }
                print(json ? JSONOutput.line(summary)
                           : "wrote the \(summary.k)-NN graph of \(summary.rows) images to \(output) on Spark (\(summary.blocks) blocks, \(summary.rounds) round\(summary.rounds == 1 ? "" : "s"), \(String(format: "%.1f", summary.seconds)) s)")
                return
            }
            let index = try RetrievalIndex.open(URL(fileURLWithPath: input), describingQueries: false)
            let range = try rowRange(count: index.store.count)
            let started = Date()
            let graph = NeighborGraph.compute(index, k: k, rows: range, threads: threads)
            try graph.write(to: outputURL)
            let seconds = Date().timeIntervalSince(started)
            if json {
                print(JSONOutput.line(Summary(firstRow: range.lowerBound, rows: range.count, k: k, seconds: seconds)))
            } else {
                print("wrote the \(k)-NN graph of rows \(range.lowerBound) ..< \(range.upperBound) to \(output) in \(String(format: "%.1f", seconds)) s")
            }
        }
    }

    private struct Summary: Encodable {
        var firstRow: Int
        var rows: Int
        var k: Int
        var seconds: Double
    }

    private func rowRange(count: Int) throws -> Range<Int> {
        guard let rows else { return 0 ..< count }
        let parts = rows.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let start = Int(parts[0]), let end = Int(parts[1]), 0 <= start, start <= end, end <= count else {
            throw ValidationError("--rows must be A:B with 0 ≤ A ≤ B ≤ \(count) (the index's images); got '\(rows)'")
        }
        return start ..< end
    }

    private func printGraph() throws {
        let graph = try NeighborGraph.read(URL(fileURLWithPath: input))
        var names: [String]?
        if let namesIndex {
            let index = try RetrievalIndex.open(URL(fileURLWithPath: namesIndex), describingQueries: false)
            guard index.store.fingerprint == graph.indexChecksum else {
                throw ValidationError("\(input) was computed on other descriptors than \(namesIndex)'s")
            }
            names = index.store.identifiers
        }
        func name(_ row: Int) -> String { names?[row] ?? String(row) }
        var text = ""
        for row in graph.firstRow ..< graph.firstRow + graph.rows {
            for (rank, neighbor) in graph.neighbors(of: row).enumerated() where neighbor >= 0 {
                let score = graph.scores[(row - graph.firstRow) * graph.k + rank]
                text += "\(name(row))\t\(name(Int(neighbor)))\t\(rank + 1)\t\(score)\n"
            }
            if text.utf8.count > 1 << 16 {
                print(text, terminator: "")
                text = ""
            }
        }
        print(text, terminator: "")
    }
}
