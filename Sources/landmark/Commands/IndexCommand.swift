import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkPipeline
import LandmarkSpark

struct IndexCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "index",
        abstract: "Describe every photograph of a folder and store the descriptors in an index directory.",
        discussion: """
        Images are the .jpg, .jpeg and .png files below IMAGES_DIR. Files that cannot be read are skipped \
        with a warning and listed at the end (exit code 3). The work is checkpointed: if indexing is \
        interrupted, running the same command again resumes where it stopped; run on a complete index, it \
        adds the images that are new, describes again those whose files changed (size, modification time \
        or inode) and removes those that are gone.

        With --local rootsift-asmk the index also holds SIFT features of every image (local-features.lmf), \
        a visual vocabulary trained on a sample of them and an ASMK inverted file; with --descriptor none \
        it holds only those, and needs no network weights.
        """)

    @Argument(help: "Folder of photographs to index.")
    var imagesDirectory: String

    @Option(name: .customLong("out"), help: "Index directory to create or update.")
    var output: String

    @OptionGroup(title: "Descriptor")
    var descriptorOptions: DescriptorOptions

    @Option(help: "Local features to index besides (or, with --descriptor none, instead of) the global descriptor: rootsift-asmk.")
    var local: String?

    @Option(help: "Visual words of the ASMK vocabulary (with --local).")
    var vocabularySize: Int = ASMKRetrieval().vocabularySize

    @Flag(help: "Train a new ASMK vocabulary; by default an index that already has one of --vocabulary-size words keeps it when images are added or removed.")
    var retrainVocabulary = false

    @Option(name: .customLong("index"), help: "How the descriptors are searched: Flat (exact, the default), Flat,f16 (exact over a float16 store, half the size), IVF<cells>,Flat, IVF<cells>,PQ<bytes>, OPQ<bytes>,IVF<cells>,PQ<bytes> or HNSW<links> (approximate; for large collections). An existing index keeps its choice unless this is given.")
    var indexFactory: String?

    @Option(parsing: .unconditional, help: "Split the index into this many shards by a hash of each image's path: each shard is an ordinary index directory (shard-NN), searched side by side and merged. Global descriptors only. An existing sharded index keeps its count.")
    var shards: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Index only shard K of N of the folder (images assigned by a hash of their path, as --shards and --spark-master do), e.g. 0/4; `landmark merge` joins the shard indexes.", valueName: "K/N"))
    var shard: String?

    @Option(parsing: .unconditional, help: "Threads that describe images (default: every core).")
    var workers: Int?

    @OptionGroup(title: "Spark")
    var spark: SparkOptions

    @Flag(help: "Rewrite the descriptors into one file in path order. Without it, an update adds new images as a segment and marks removed ones, and compacts by itself past \(IndexSegments.maximumSegments) segments or \(Int(IndexSegments.maximumRemovedFraction * 100)) % removed rows.")
    var compact = false

    @Flag(help: "Index IMAGES_DIR into an index built from another folder, making it the index's folder. Images are matched by their path relative to the folder and reused only when size, modification time and inode are unchanged; images the new folder lacks are removed from the index. Without it, such a run is refused.")
    var changeFolder = false

    @Flag(help: "Decide which descriptors to reuse by a CRC-32 of each photo's bytes and its size, not its modification time and inode: every photo is read on every run, but touched or moved photos are reused and photos edited in place under their old time are described again.")
    var verifyContent = false

    @Option(parsing: .unconditional, help: "Refuse images with more pixels than this (decompression-bomb guard).")
    var maxPixels: Int = ImageDecodingOptions().maximumPixelCount

    @Flag(help: "Decode every JPEG in full before resizing, as PIL's open + convert does, instead of at 1/2, 1/4 or 1/8 of its size when that still covers twice the network's input (faster on multi-megapixel photos; descriptors differ slightly).")
    var fullDecode = false

    @Option(parsing: .unconditional, help: "Images between two checkpoints.")
    var checkpointEvery: Int = 128

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard maxPixels > 0 else { throw ValidationError("--max-pixels must be positive") }
        guard checkpointEvery > 0 else { throw ValidationError("--checkpoint-every must be positive") }
        if let local, local != LocalIndexConfiguration.rootSIFTASMK {
            throw ValidationError("--local must be \(LocalIndexConfiguration.rootSIFTASMK)")
        }
        guard vocabularySize > 0 else { throw ValidationError("--vocabulary-size must be positive") }
        if let shards {
            guard shards >= 1 else { throw ValidationError("--shards must be at least 1") }
            guard local == nil else { throw ValidationError("--shards indexes global descriptors only; leave out --local") }
        }
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        if shard != nil {
            _ = try parsedShard()
            guard shards == nil, spark.master == nil else { throw ValidationError("--shard builds one shard; leave out --shards and --spark-master") }
        }
        if spark.master != nil {
            guard shards == nil, local == nil else { throw ValidationError("--spark-master indexes global descriptors into one merged index; leave out --shards and --local") }
            guard !isLocalOnly else { throw ValidationError("--spark-master needs a global descriptor") }
        }
        if isLocalOnly, local == nil {
            throw ValidationError("--descriptor none needs --local \(LocalIndexConfiguration.rootSIFTASMK)")
        }
    }

    /// `--descriptor none`: local features only.
    var isLocalOnly: Bool { descriptorOptions.descriptor.lowercased() == IndexManifest.noGlobalDescriptor }

    func parsedShard() throws -> ShardSelection {
        let (number, count) = try parsePart(shard, option: "--shard")
        return ShardSelection(number: number, count: count)
    }

    func run() throws {
        let factory = try indexFactory.map(parseIndexFactory)
        if let master = spark.master {
            try runOnSpark(master: master, factory: factory)
            return
        }
        if factory != nil, isLocalOnly { throw ValidationError("--index chooses how global descriptors are searched; --descriptor none has none") }
        let extractor: (any GlobalDescriptorExtractor)? = isLocalOnly ? nil : try descriptorOptions.makeExtractor()
        let localConfiguration = local.map { _ in
            var configuration = LocalIndexConfiguration(vocabularySize: vocabularySize)
            configuration.retrainVocabulary = retrainVocabulary
            return configuration
        }
        let selection = shard == nil ? nil : try parsedShard()
        let progress = ProgressBar(label: "indexing", enabled: !quiet)
        let summary: IndexBuildSummary
        do throws(PipelineError) {
            let outputURL = URL(fileURLWithPath: output)
            var options = IndexBuildOptions(shardSize: checkpointEvery, decoding: ImageDecodingOptions(maximumPixelCount: maxPixels, reducedScaleDecoding: !fullDecode),
                                            factory: factory, compact: compact, changeFolder: changeFolder)
            options.verifyContent = verifyContent
            if let workers { options.workerCount = workers }
            options.shard = selection
            let existingShards = try ShardedIndexManifest.load(in: outputURL)
            if shards != nil || existingShards != nil {
                guard let extractor, local == nil else {
                    throw PipelineError(code: .invalidRequest, file: output, reason: "a sharded index holds global descriptors only")
                }
                summary = try ShardedIndexBuilder.build(images: URL(fileURLWithPath: imagesDirectory), index: outputURL,
                                                        shardCount: shards, extractor: extractor, options: options,
                                                        progress: progress.handler)
            } else {
                summary = try IndexBuilder.build(images: URL(fileURLWithPath: imagesDirectory), index: outputURL,
                                                 extractor: extractor, local: localConfiguration, options: options,
                                                 progress: progress.handler)
            }
        } catch {
            throw fail(error)
        }
        for skipped in summary.skipped {
            Console.error("warning: skipped \(skipped.image): \(skipped.reason)")
        }
        if json {
            print(JSONOutput.line(summary))
        } else {
            print("indexed \(summary.total - summary.skipped.count) of \(summary.total) images into \(output)\(shards.map { " (\($0) shards)" } ?? "") "
                + "(\(summary.described) described now, \(summary.reused) reused, \(summary.removed) removed, "
                + "\(summary.skipped.count) skipped; \(summary.rewritten ? "descriptors rewritten" : "descriptors updated in place"), "
                + "\(summary.descriptorBytesWritten) bytes of descriptors written)")
        }
        if let exit = LandmarkExitCode.forSkipped(summary.skipped.count, of: summary.total) { throw exit }
    }

    /// The options a shard task repeats, so that each shard is described as a single run would.
    private var shardTaskArguments: [String] {
        var arguments = descriptorOptions.commandLineArguments + ["--max-pixels", String(maxPixels), "--checkpoint-every", String(checkpointEvery)]
        if fullDecode { arguments.append("--full-decode") }
        if verifyContent { arguments.append("--verify-content") }
        if changeFolder { arguments.append("--change-folder") }
        return arguments
    }

    private func runOnSpark(master: String, factory: IndexFactory?) throws {
        // Fail here, not in every task, when the descriptor cannot be made (missing weights, bad options).
        _ = try descriptorOptions.makeExtractor()
        let cluster = try spark.cluster(master: master)
        let request = DistributedIndexing.Request(
            images: URL(fileURLWithPath: imagesDirectory), output: URL(fileURLWithPath: output), shardCount: spark.tasks,
            executable: try spark.executable(), indexArguments: shardTaskArguments, threadsPerTask: workers ?? 1, factory: factory)
        let quiet = quiet
        let summary = try reportingFailures {
            try DistributedIndexing.run(request, on: cluster) { line in
                if !quiet { Console.error(line) }
            }
        }
        let build = summary.build
        for skipped in build.skipped {
            Console.error("warning: skipped \(skipped.image): \(skipped.reason)")
        }
        if json {
            print(JSONOutput.line(summary))
        } else {
            print("indexed \(summary.merge.images) of \(build.total) images into \(output) on Spark (\(master), \(summary.merge.shards) shards, "
                + "\(summary.rounds) round\(summary.rounds == 1 ? "" : "s")\(summary.retriedTasks.isEmpty ? "" : ", retried \(summary.retriedTasks.joined(separator: " "))"); "
                + "\(build.described) described now, \(build.reused) reused, \(build.skipped.count) skipped)")
        }
        if let exit = LandmarkExitCode.forSkipped(build.skipped.count, of: build.total) { throw exit }
    }
}
