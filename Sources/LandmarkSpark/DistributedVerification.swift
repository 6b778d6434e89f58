import Foundation
import LandmarkMining
import LandmarkPipeline

/// `landmark match-graph INDEX --knn GRAPH --spark-master URL`: the spatial verification of every
/// image's shortlist — the costly half of cleaning and mining — as Spark tasks. The pairs come from the
/// kNN graph (`landmark knn`, itself a Spark job), each task verifies every N-th pair on one core and
/// writes them durably, and the parts are added to the index's verified-pair cache (`match-graph.tsv`),
/// where `landmark mine` and `landmark clean` then find them instead of verifying again.
public enum DistributedVerification {
    public struct Summary: Sendable, Codable {
        public var pairs: Int
        /// Pairs the cache did not have, now added.
        public var added: Int
        public var parts: Int
        public var rounds: Int
        public var seconds: Double
    }

    public static func run(index: URL, graph: URL, shortlist: Int, parts requested: Int?, executable: URL,
                           on cluster: SparkCluster, progress: @escaping @Sendable (String) -> Void) throws -> Summary {
        let started = Date()
        let opened = try RetrievalIndex.open(index)
        let pairs = try MatchGraph.candidatePairs(of: opened, graph: try NeighborGraph.read(graph), file: graph.path, shortlist: shortlist)
        let parts = max(1, min(requested ?? DistributedNeighborGraph.defaultBlockCount(master: cluster.master), max(1, pairs.count)))
        let work = try SparkWorkFolder.open(index.appendingPathComponent(".landmark-verification", isDirectory: true),
                                            purpose: "Parts of a `landmark match-graph --spark-master` run; removed when it completes.")
        let files = (0 ..< parts).map { work.appendingPathComponent(String(format: "part-%05d.tsv", $0)) }
        let tasks = (0 ..< parts).map { part in
            SparkTask(name: files[part].lastPathComponent,
                      argv: [executable.path, "match-graph", index.standardizedFileURL.path, "--knn", graph.standardizedFileURL.path,
                             "--shortlist", String(shortlist), "--part", "\(part)/\(parts)", "--threads", "1",
                             "--out", files[part].path, "--json"])
        }
        let report = try SparkJob(name: "landmark match-graph \(index.lastPathComponent)", tasks: tasks)
            .run(on: cluster, workFolder: work, output: progress)
        let added = try MatchGraph.absorbParts(files, into: opened)
        SparkWorkFolder.remove(work, outputPrefix: "part-")
        return Summary(pairs: pairs.count, added: added, parts: parts, rounds: report.rounds, seconds: Date().timeIntervalSince(started))
    }
}
