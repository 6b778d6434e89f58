import ArgumentParser
import Foundation
import LandmarkBenchmarks

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure this machine: image decoding, matrix products and exact search.",
        discussion: """
        Prints images decoded (and resized) per second, the measured sgemm GFLOP/s, and exact-search \
        queries per second with effective GFLOP/s for 100k × 512 and 100k × 2048 indexes with 1000 \
        queries. Build in release mode for meaningful figures: swift run -c release landmark bench.
        """)

    @Option(help: "Folder of photographs to time decoding on (default: ../shared/devset if present, else synthetic).")
    var images: String?

    @Flag(help: "Smaller sizes, for a quick look (10k-image indexes, 100 queries).")
    var quick = false

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    func run() throws {
        let report = BenchmarkSuite.run(
            imagesDirectory: images.map { URL(fileURLWithPath: $0) }, quick: quick,
            log: { Console.error($0) })
        print(json ? report.json : report.text)
    }
}
