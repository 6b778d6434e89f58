import Foundation
import LandmarkMining
import LandmarkPipeline
import LandmarkStorage

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
        let work = output.deletingLastPathComponent().appendingPathComponent(".\(output.lastPathComponent).landmark-blocks", isDirectory: true)
        let marker = work.appendingPathComponent(IndexLayout.workMarkerFileName)
        if FileManager.default.fileExists(atPath: work.path), !FileManager.default.fileExists(atPath: marker.path) {
            throw PipelineError(code: .invalidRequest, file: work.path, reason: "exists but was not created by landmark; move it away and run again")
        }
        do {
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            try DurableFile.write(Data("Blocks of a `landmark knn --spark-master` run; removed when it completes.\n".utf8), to: marker)
        } catch {
            throw PipelineError(code: .writeFailed, file: work.path, reason: "cannot create the block folder: \(error)")
        }
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
        for name in (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
        where name.hasPrefix("block-") || name.hasPrefix("spark") || name.hasPrefix("landmark_spark") || DurableFile.isTemporaryName(name) {
            try? FileManager.default.removeItem(at: work.appendingPathComponent(name))
        }
        if (try? FileManager.default.contentsOfDirectory(atPath: work.path)) == [IndexLayout.workMarkerFileName] {
            try? FileManager.default.removeItem(at: work)
        }
        return Summary(rows: joined.rows, k: k, blocks: blocks, rounds: report.rounds, seconds: Date().timeIntervalSince(started))
    }
}
