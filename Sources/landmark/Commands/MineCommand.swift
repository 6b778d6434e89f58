import LandmarkGeometry
import ArgumentParser
import Foundation
import LandmarkEvaluation
import LandmarkMining
import LandmarkPipeline
import LandmarkTraining

struct MineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mine",
        abstract: "Find training data in unlabelled photos: the verified-match graph, its clusters, training tuples (METHODS.md §9).",
        discussion: """
        INDEX must hold global descriptors and local features (`landmark index IMAGES --out INDEX --local \\
        rootsift-asmk`). Every image's --shortlist nearest neighbours are spatially verified (each pair once, \\
        on every core; verified pairs are kept in INDEX/match-graph.tsv and reused by later runs); images \\
        joined by pairs with at least --min-inliers distinct inliers form clusters, each standing for one \\
        landmark. DIR gets clusters.tsv, tuples.tsv (one tuple per clustered image with its hardest verified \\
        positive, or --positives random) and mining.json — what `landmark train DIR` reads — plus clusters.png \\
        (a contact sheet: a few images of each cluster, to check them by eye) and cluster-sizes.png. --ground-truth only measures the result \\
        (pair precision and recall, cluster purity); the mining never reads it.
        """)

    @Argument(help: "Index directory with global descriptors and local features.")
    var index: String

    @Option(name: .customLong("out"), help: "Directory for clusters.tsv, tuples.tsv and mining.json.")
    var output: String

    @Option(parsing: .unconditional, help: "Neighbours of every image to verify.")
    var shortlist: Int = 20

    @Option(help: "Distinct inliers an edge of the graph needs.")
    var minInliers: Int = VerificationThresholds.miningEdge

    @Option(parsing: .unconditional, help: "Smallest cluster kept.")
    var minClusterSize: Int = 2

    @Option(parsing: .unconditional, help: ArgumentHelp("Cut an edge that alone links two parts of a cluster when it has fewer distinct inliers than this.",
                               valueName: "inliers"))
    var splitWeakBridges: Int?

    @Option(help: "Positive of each tuple: hardest (least similar verified neighbour) or random (a verified neighbour beyond the 2 most similar).")
    var positives: String = "hardest"

    @Option(help: "Seed of --positives random.")
    var seed: UInt64 = 0

    @Flag(help: "Do not draw clusters.png (contact sheet) and cluster-sizes.png.")
    var noPictures = false

    @Option(help: "A folder benchmark or image<TAB>landmark TSV to score the clusters against (never used to mine).")
    var groundTruth: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    struct Summary: Encodable {
        var images: Int
        var pairsVerified: Int
        var edges: Int
        var clusters: Int
        var clusteredImages: Int
        var tuples: Int
        var clusterSizes: [Int]
        var seconds: Double
        var scores: MiningScores?
    }

    func validate() throws {
        guard shortlist > 0, minInliers > 0, minClusterSize >= 2 else {
            throw ValidationError("--shortlist and --min-inliers must be positive, --min-cluster-size at least 2")
        }
        guard ["hardest", "random"].contains(positives) else {
            throw ValidationError("--positives must be hardest or random")
        }
    }

    func run() throws {
        let started = Date()
        let retrievalIndex: RetrievalIndex
        do {
            retrievalIndex = try RetrievalIndex.open(URL(fileURLWithPath: index))
        } catch {
            throw fail(error)
        }
        let progress = ProgressBar(label: "verifying", enabled: !quiet)
        let graph: MatchGraph
        do {
            graph = try MatchGraph.build(retrievalIndex, shortlist: shortlist, progress: progress.handler)
        } catch {
            Console.error("error: \(error)")
            throw LandmarkExitCode.failure
        }
        let clusters = MinedClusters(graph, minimumInliers: minInliers, minimumSize: minClusterSize,
                                     weakBridgeInliers: splitWeakBridges)
        let selection: MinedClusters.PositiveSelection = positives == "random" ? .random(skippingNearest: 2, seed: seed) : .hardest
        let tuples = clusters.tuples(graph, minimumInliers: minInliers, selection: selection)
        let root = URL(fileURLWithPath: retrievalIndex.manifest.imageRoot)
        do {
            try clusters.write(to: URL(fileURLWithPath: output), graph: graph, root: root, minimumInliers: minInliers,
                               selection: selection,
                               parameters: ["index": URL(fileURLWithPath: index).standardizedFileURL.path,
                                            "shortlist": "\(shortlist)", "minInliers": "\(minInliers)",
                                            "minClusterSize": "\(minClusterSize)", "positives": positives,
                                            "splitWeakBridges": splitWeakBridges.map(String.init) ?? "none"])
            if !noPictures {
                try ClusterReport.write(to: URL(fileURLWithPath: output), clusters: clusters, graph: graph, root: root)
            }
        } catch {
            Console.error("error: \(output): cannot write the tuples (\(error))")
            throw LandmarkExitCode.failure
        }
        var scores: MiningScores?
        if let groundTruth {
            scores = try score(clusters, graph: graph, tuples: tuples, groundTruth: groundTruth)
        }
        let summary = Summary(images: graph.images.count, pairsVerified: graph.edges.count,
                              edges: graph.edges.filter { $0.inliers >= minInliers }.count, clusters: clusters.members.count,
                              clusteredImages: clusters.members.reduce(0) { $0 + $1.count }, tuples: tuples.count,
                              clusterSizes: clusters.members.map(\.count), seconds: Date().timeIntervalSince(started), scores: scores)
        if json {
            print(JSONOutput.line(summary))
            return
        }
        print("\(summary.clusters) clusters of \(summary.clusteredImages) of \(summary.images) images "
            + "(\(summary.edges) edges ≥ \(minInliers) inliers among \(summary.pairsVerified) verified pairs), "
            + "\(summary.tuples) tuples in \(output), \(String(format: "%.1f", summary.seconds)) s")
        print("cluster sizes: " + summary.clusterSizes.map(String.init).joined(separator: " "))
        if let scores {
            print(String(format: "against the ground truth: pair precision %.3f, recall %.3f, purity %.3f, %d clusters for %d landmarks, positives %.3f",
                         scores.pairPrecision, scores.pairRecall, scores.purity, scores.clusters, scores.landmarks,
                         scores.positivePrecision ?? 1))
        }
    }

    func score(_ clusters: MinedClusters, graph: MatchGraph, tuples: [TupleFile.Tuple], groundTruth: String) throws -> MiningScores {
        var isDirectory: ObjCBool = false
        let url = URL(fileURLWithPath: groundTruth)
        let folder = FileManager.default.fileExists(atPath: groundTruth, isDirectory: &isDirectory) && isDirectory.boolValue
            ? url : url.deletingLastPathComponent()
        let benchmark: FolderBenchmark
        do {
            benchmark = try FolderBenchmark.load(folder)
        } catch {
            Console.error("error: --ground-truth: \(error)")
            throw LandmarkExitCode.failure
        }
        return MiningScores(clusters: clusters, graph: graph, benchmark: benchmark, tuples: tuples)
    }
}
