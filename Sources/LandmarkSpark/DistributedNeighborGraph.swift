import Foundation
import LandmarkMining
import LandmarkPipeline

/// `landmark knn INDEX --out GRAPH --spark-master URL`: the rows of the index are cut into contiguous
/// blocks, each Spark task runs `landmark knn INDEX --rows A:B` on one core and writes its block
/// durably, and the blocks are joined (`NeighborGraph.join`) into the graph one process computes.
/// A block written twice is the same bytes, so retried and duplicated tasks are harmless.
public enum DistributedNeighborGraph {
    public struct Summary: Sendable, Codable {
        public var rows: Int
        public var k: Int
        public var blocks: Int
        public var rounds: Int
        /// Seconds from the first task's start to the joined file.
        public var seconds: Double
    }

    /// Two blocks per Spark core of a `local[N]` master, so that a slow or retried block does not leave
    /// a core idle at the end; 8 otherwise.
    public static func defaultBlockCount(master: String) -> Int {
        if master.hasPrefix("local["), let cores = Int(master.dropFirst(6).prefix { $0.isNumber }) { return max(2, 2 * cores) }
        return 8
    }

    public static func run(index: URL, k: Int, output: URL, blocks requested: Int?, executable: URL,
                           on cluster: SparkCluster, progress: @escaping @Sendable (String) -> Void) throws -> Summary {
        let started = Date()
        let opened = try RetrievalIndex.open(index, describingQueries: false)
        let count = opened.store.count
        let blocks = max(1, min(requested ?? defaultBlockCount(master: cluster.master), count))
        // Beside the output, named after it and marked, so the tool removes only its own folder.
        let work = try SparkWorkFolder.open(output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).landmark-blocks", isDirectory: true),
                                            purpose: "Blocks of a `landmark knn --spark-master` run; removed when it completes.")
        let bounds = (0 ... blocks).map { $0 * count / blocks }
        let files = (0 ..< blocks).map { work.appendingPathComponent(String(format: "block-%05d.%@", $0, NeighborGraph.fileExtension)) }
        let tasks = (0 ..< blocks).map { number in
            SparkTask(name: files[number].lastPathComponent,
                      argv: [executable.path, "knn", index.standardizedFileURL.path, "--k", String(k),
                             "--rows", "\(bounds[number]):\(bounds[number + 1])", "--threads", "1",
                             "--out", files[number].path, "--json"])
        }
        let report = try SparkJob(name: "landmark knn \(index.lastPathComponent)", tasks: tasks)
            .run(on: cluster, workFolder: work, output: progress)
        var parts: [(graph: NeighborGraph, file: String)] = []
        for file in files { parts.append((try NeighborGraph.read(file), file.path)) }
        let joined = try NeighborGraph.join(parts)
        guard joined.indexChecksum == opened.store.fingerprint else {
            throw PipelineError(code: .invalidIndex, file: index.path, reason: "changed while the graph was computed; run again")
        }
        try joined.write(to: output)
        SparkWorkFolder.remove(work, outputPrefix: "block-")
        return Summary(rows: joined.rows, k: k, blocks: blocks, rounds: report.rounds, seconds: Date().timeIntervalSince(started))
    }
}
