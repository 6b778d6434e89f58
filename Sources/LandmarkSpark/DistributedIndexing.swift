import Foundation
import LandmarkIndex
import LandmarkPipeline
import LandmarkStorage

/// `landmark index IMAGES --out INDEX --spark-master URL`: the folder is split into shards by the
/// path hash every engine agrees on (`ShardAssignment`), each Spark task runs `landmark index … --shard
/// k/N` into its own index directory under `INDEX/.landmark-shards/`, and the shards are then merged
/// (`IndexMerge`) into `INDEX`, which is exactly the index a single-process run writes.
///
/// Why this is safe to retry: a shard task takes the shard directory's lock, checkpoints as it goes
/// and reuses what an earlier attempt described, so a killed task run again finishes the same shard, and
/// a second copy of a task running at once fails on the lock and is retried after. `INDEX` itself is
/// locked for the whole run and its manifest written last, so a failed job leaves the previous index.
/// The shard directories stay after the merge: the next distributed run describes only what changed.
public enum DistributedIndexing {
    /// What the tasks and the merge did.
    public struct Summary: Sendable, Codable {
        /// The shard runs' totals, as one `landmark index` run reports them.
        public var build: IndexBuildSummary
        public var merge: IndexMerge.Summary
        /// Tasks that failed at least once and succeeded when run again.
        public var retriedTasks: [String]
        public var rounds: Int
    }

    /// Where a task finds things: for a cluster, the paths must be the same on every node (a shared
    /// file system), and `landmark` installed at `executable` on each.
    public struct Request: Sendable {
        public var images: URL
        public var output: URL
        /// Shards; nil keeps the count of an earlier distributed build of `output`, else `defaultShardCount`.
        public var shardCount: Int?
        /// The `landmark` binary the tasks run.
        public var executable: URL
        /// Options every shard run gets (descriptor, decoding limits, checkpoints, `--verify-content`).
        public var indexArguments: [String]
        /// Description threads inside each task; Spark's `spark.task.cpus` should match.
        public var threadsPerTask: Int
        /// The merged index's search index; nil keeps the previous one (or exact search).
        public var factory: IndexFactory?

        public init(images: URL, output: URL, shardCount: Int?, executable: URL, indexArguments: [String],
                    threadsPerTask: Int = 1, factory: IndexFactory? = nil) {
            self.images = images
            self.output = output
            self.shardCount = shardCount
            self.executable = executable
            self.indexArguments = indexArguments
            self.threadsPerTask = threadsPerTask
            self.factory = factory
        }
    }

    /// About 100 photographs a shard: small enough that a lost task costs little and two workers stay
    /// busy to the end, large enough that loading the network (≈ 0.3 s a task) does not dominate.
    public static func defaultShardCount(images: Int) -> Int { min(1024, max(2, images / 100)) }

    public static func run(_ request: Request, on cluster: SparkCluster,
                           output progress: @escaping @Sendable (String) -> Void) throws -> Summary {
        let images = request.images.standardizedFileURL
        let output = request.output.standardizedFileURL
        try IndexWorkDirectory.checkIndexDirectory(output)
        return try IndexLock.withLock(on: output) { () throws(PipelineError) -> Result<Summary, SparkError> in
            let work = try SparkWorkFolder.open(output.appendingPathComponent(IndexLayout.distributedWorkDirectoryName, isDirectory: true),
                                                purpose: "Shard indexes of `landmark index --spark-master`; each is an ordinary index, merged into the index above.")
            let paths = try ImageCollection.scan(images)
            // A shard without images would fail in every round; a count the user did not choose is
            // lowered until every shard has some (hashing leaves that to chance with few images a shard).
            func emptyShard(of count: Int) -> Int? {
                var sizes = Array(repeating: 0, count: count)
                for path in paths { sizes[ShardAssignment.shard(of: path, count: count)] += 1 }
                return sizes.firstIndex(of: 0)
            }
            var count = request.shardCount ?? existingShardCount(in: work) ?? defaultShardCount(images: paths.count)
            if request.shardCount == nil {
                while count > 1, emptyShard(of: count) != nil { count -= 1 }
            }
            guard count >= 1 else {
                throw PipelineError(code: .invalidRequest, file: images.path, reason: "--spark-tasks must be at least 1")
            }
            if let empty = emptyShard(of: count) {
                throw PipelineError(code: .invalidRequest, file: images.path,
                                    reason: "\(paths.count) images leave shard \(empty) of \(count) empty; use fewer --spark-tasks")
            }
            let shardDirectories = (0 ..< count).map { work.appendingPathComponent(ShardedIndexManifest.directoryName($0)) }
            // The shards are searched exactly; the merge builds the chosen search index once over all rows.
            let storeFactory = (request.factory?.storeElementType ?? .float32) == .float16 ? "Flat,f16" : "Flat"
            let tasks = shardDirectories.enumerated().map { number, directory in
                SparkTask(name: directory.lastPathComponent,
                          argv: [request.executable.path, "index", images.path, "--out", directory.path,
                                 "--shard", "\(number)/\(count)", "--workers", String(request.threadsPerTask),
                                 "--index", storeFactory, "--json", "--quiet"] + request.indexArguments,
                          acceptedExitCodes: [0, 3])
            }
            let report: SparkJobReport
            do throws(SparkError) {
                report = try SparkJob(name: "landmark index \(images.lastPathComponent)", tasks: tasks)
                    .run(on: cluster, workFolder: work, output: progress)
            } catch {
                return .failure(error)
            }
            var build = IndexBuildSummary(total: 0, described: 0, reused: 0, skipped: [])
            for result in report.results {
                guard let line = result.stdout.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
                      let part = try? JSONDecoder().decode(IndexBuildSummary.self, from: Data(line.utf8)) else {
                    throw PipelineError(code: .invalidIndex, file: work.appendingPathComponent(result.name).path,
                                        reason: "its task printed no summary; see \(work.appendingPathComponent(SparkJob.logFileName).path)")
                }
                build.include(part)
            }
            build.skipped.sort { $0.image < $1.image }
            progress("merging \(count) shards into \(output.path)")
            let merge = try IndexMerge.mergeHoldingLock(shards: shardDirectories, into: output, factory: request.factory, progress: nil)
            build.descriptorBytesWritten = merge.descriptorBytesWritten
            build.rewritten = true
            return .success(Summary(build: build, merge: merge, retriedTasks: report.results.filter { $0.attempts > 1 }.map(\.name),
                                    rounds: report.rounds))
        }.get()
    }

    /// The shard count of an earlier distributed build, from the shard directories it left.
    static func existingShardCount(in work: URL) -> Int? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
        let shards = names.filter { $0.hasPrefix("shard-") }.count
        return shards > 0 ? shards : nil
    }
}
