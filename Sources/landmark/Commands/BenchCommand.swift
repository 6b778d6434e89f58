import ArgumentParser
import LandmarkVectorDatabase
import Foundation
import LandmarkBenchmarks
import LandmarkDescriptors
import LandmarkIndex
@_spi(Benchmarks) import LandmarkLinearAlgebra
import LandmarkNetworks
import LandmarkPipeline
import LandmarkTraining

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure this machine: image decoding, matrix products, exact and approximate search, CNN extraction, local features, pipeline stages.",
        discussion: "Build in release mode for meaningful figures: swift run -c release landmark bench [cnn].",
        subcommands: [Core.self, CNN.self, Convolutions.self, Local.self, Pipeline.self, Search.self, Update.self, Grow.self, Synthetic.self, Database.self, Train.self],
        defaultSubcommand: Core.self)

    struct Core: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "core",
            abstract: "Image decoding, sgemm and exact-search figures (the default).",
            discussion: """
            Prints images decoded (and resized) per second, the measured sgemm GFLOP/s, and exact-search \
            queries per second with effective GFLOP/s for 100k × 512 and 100k × 2048 indexes with 1000 queries.
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

    struct CNN: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cnn",
            abstract: "CNN descriptor extraction speed, GFLOP/s and peak memory on real photographs.",
            discussion: """
            Without --model, measures EfficientNet-Lite2 GeM at 512 px and ResNet-101 GeM at 1024 px (seeded \
            untrained weights: same speed, nothing to download), single- and multi-scale. ResNet-101 at \
            1024 px single-scale runs first, so the first peak-memory figure is that of one such extraction \
            (weights included). Compare with PyTorch, side by side: scripts/bench_cnn_side_by_side.sh.
            """)

        @Option(help: "Folder of photographs (default: ../shared/devset/images).")
        var images: String = "../shared/devset/images"

        @Option(parsing: .unconditional, help: "Photographs to time.")
        var count: Int = 10

        @Option(help: "One configuration only: lite2, lite0, resnet50, resnet101, resnet152, or a checkpoint path.")
        var model: String?

        @Option(parsing: .unconditional, help: "With --model: longer image side.")
        var size: Int = 1024

        @Option(help: "With --model: comma-separated scales.")
        var scales: String = "1"

        @Option(parsing: .unconditional, help: "Run one image's matrix products on this many BLAS threads instead of the tensor engine's own threads.")
        var blasThreads: Int?

        @Flag(help: "Print the figures as one JSON array.")
        var json = false

        func run() throws {
            let directory = URL(fileURLWithPath: images)
            let paths: [String]
            do {
                paths = try ImageCollection.scan(directory)
            } catch {
                throw fail(error)
            }
            let files = paths.prefix(max(1, count)).map { directory.appendingPathComponent($0) }
            guard !files.isEmpty else { throw ValidationError("no photographs in \(images)") }
            let multi = CNNDescriptorConfiguration.multiScale
            var plan: [(String, String, Int, [Double])] = []
            if let model {
                do {
                    plan = [(model, model, size, try CNNDescriptorConfiguration.parseScales(scales))]
                } catch {
                    throw ValidationError(error.reason)
                }
            } else {
                plan = [("ResNet-101 GeM 1024 px", "resnet101", 1024, [1]),
                        ("ResNet-101 GeM 1024 px multi-scale", "resnet101", 1024, multi),
                        ("EfficientNet-Lite2 GeM 512 px", "lite2", 512, [1]),
                        ("EfficientNet-Lite2 GeM 512 px multi-scale", "lite2", 512, multi)]
            }
            Console.error("timing sgemm for the reference peak…")
            let peak = MatrixProductBenchmark.run(repetitions: 3).bestGFLOPS
            var results: [CNNExtractionBenchmarkResult] = []
            for (label, model, size, scales) in plan {
                Console.error("timing \(label) on \(files.count) photographs…")
                let configuration = CNNDescriptorConfiguration(model: model, size: size, scales: scales, pooling: .gem(p: 3))
                let extractor: CNNGlobalDescriptor
                do {
                    if let depth = Int(model.lowercased().replacingOccurrences(of: "resnet", with: "")),
                       model.lowercased().hasPrefix("resnet") {
                        extractor = try CNNExtractionBenchmark.seededResNet(depth: depth, configuration: configuration)
                    } else {
                        extractor = try CNNGlobalDescriptor(configuration)
                    }
                } catch {
                    Console.error("error: \(error.reason)")
                    throw LandmarkExitCode.failure
                }
                var result = CNNExtractionBenchmark.run(label: label, extractor: extractor, files: Array(files), blasThreads: blasThreads)
                result.sgemmPeakGFLOPS = peak
                results.append(result)
                if !json { print(result.description) }
            }
            if !json { print(String(format: "measured sgemm peak: %.1f GFLOP/s (convolution GFLOP/s count direct-convolution arithmetic, so Winograd layers can exceed it)", peak)) }
            if json { print(JSONOutput.line(results)) }
        }
    }

    struct Convolutions: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conv",
            abstract: "Layer by layer: the convolution shapes that dominate ResNet-101 at 1024 px and EfficientNet-Lite at 512 px, against the sgemm peak.",
            discussion: """
                Random weights and inputs, bias + ReLU fused as in a network; best of --repetitions calls after a \
                warm-up. Then EfficientNet-Lite2's largest inverted bottlenecks, fused band by band and as three \
                separate layers.
                """)

        @Option(parsing: .unconditional, help: "Timed calls per shape.")
        var repetitions: Int = 3

        @Flag(help: "Run dense 3 × 3 layers through im2col instead of Winograd.")
        var noWinograd = false

        @Option(parsing: .unconditional, help: "BLAS threads; 1 (as in extraction) lets the engine's threads share each layer's tiles.")
        var blasThreads: Int = 1

        @Option(parsing: .unconditional, help: "Winograd output tile of dense 3 × 3 layers: 4 (the default) or 2.")
        var winogradTile: Int = 4

        @Flag(help: "Take the portable paths (sgemm for 1 × 1 layers, Swift loops for depthwise ones) instead of the AVX-512 kernels.")
        var portableKernels = false

        func run() throws {
            guard winogradTile == 2 || winogradTile == 4 else { throw ValidationError("--winograd-tile must be 2 or 4") }
            for result in ConvolutionBenchmark.run(threadCount: blasThreads, parallelism: ProcessInfo.processInfo.activeProcessorCount,
                                                   repetitions: repetitions, winograd: !noWinograd,
                                                   vectorKernels: portableKernels ? false : nil,
                                                   winogradOutputTile: winogradTile) {
                print(result.description)
            }
            for result in ConvolutionBenchmark.runBlocks(repetitions: repetitions,
                                                         vectorKernels: portableKernels ? false : nil) {
                print(result.description)
            }
        }
    }

    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "train",
            abstract: "Fine-tuning speed: forward + backward + Adam step per image, and with the frozen trunk cached.",
            discussion: """
            Per pair of photographs (one per core): the whole network forward, backward through the trainable \
            top units, GeM, whitening, and an Adam step; then the same steps on the cached output of the frozen \
            bottom, as `landmark train` runs them. Compare with PyTorch, side by side: \
            scripts/bench_train_side_by_side.sh.
            """)

        @Option(help: "Folder of photographs (default: ../shared/devset/images).")
        var images: String = "../shared/devset/images"

        @Option(parsing: .unconditional, help: "Photographs to time.")
        var count: Int = 10

        @Option(help: "lite2, lite0, a checkpoint path, or resnet50 / resnet101 (seeded weights; units are bottlenecks).")
        var model: String = "lite2"

        @Option(parsing: .unconditional, help: "Longer image side (cirtorch trains at 362).")
        var size: Int = 362

        @Option(help: "Comma-separated numbers of trainable top units (0: head only; 'all': every unit above the stem).")
        var trainableBlocks: String = "0,2,8,all"

        @Flag(help: "Print the figures as one JSON array.")
        var json = false

        func run() throws {
            let directory = URL(fileURLWithPath: images)
            let paths: [String]
            do {
                paths = try ImageCollection.scan(directory)
            } catch {
                throw fail(error)
            }
            let files = paths.prefix(max(2, count)).map { directory.appendingPathComponent($0) }
            guard !files.isEmpty else { throw ValidationError("no photographs in \(images)") }
            var results: [TrainingBenchmarkResult] = []
            for item in trainableBlocks.split(separator: ",") {
                var units = Int(item) ?? -1
                if item == "all" {
                    if let depth = TrainingBenchmark.seededResNetDepth(model) {
                        units = depth == 50 ? 16 : 33
                    } else {
                        var probe = FineTuningConfiguration()
                        probe.model = model
                        guard let network = try? FineTunedNetwork.load(probe), let lite = network.frozenTrunk as? EfficientNetLite else {
                            throw ValidationError("'all' needs an EfficientNet-Lite or ResNet model")
                        }
                        units = lite.unitCount - 1
                    }
                }
                guard units >= 0 else { throw ValidationError("--trainable-blocks takes numbers or 'all', not '\(item)'") }
                Console.error("timing \(model) at \(size) px with \(units) trainable units on \(files.count) photographs…")
                do {
                    let result = try TrainingBenchmark.run(label: "\(model) \(size) px", model: model, size: size,
                                                           trainableUnits: units, files: Array(files))
                    results.append(result)
                    if !json { print(result.description) }
                } catch let error as TrainingDataError {
                    Console.error("error: \(error)")
                    throw LandmarkExitCode.failure
                }
            }
            if json { print(JSONOutput.line(results)) }
        }
    }

    struct Local: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "local",
            abstract: "SIFT extraction, pair verification, ASMK query latency and bytes per image on disk.",
            discussion: """
            SIFT is timed on decoded grey images resized to --size (decoding reported apart); verification \
            (ratio-test matching + homography RANSAC, 1 thread) on consecutive photographs in path order; ASMK \
            query latency (1 thread) on an index of --asmk-images images made by repeating the photographs' \
            representations. Compare SIFT with OpenCV's, side by side: scripts/bench_sift_side_by_side.sh.
            """)

        @Option(help: "Folder of photographs (default: ../shared/devset if present, else synthetic).")
        var images: String?

        @Option(parsing: .unconditional, help: "Photographs to use.")
        var count: Int = 20

        @Option(help: "Threads of one SIFT extraction (default: all cores).")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(parsing: .unconditional, help: "Keypoints kept per image.")
        var features: Int = 1000

        @Option(parsing: .unconditional, help: "Longer image side for SIFT.")
        var size: Int = 1024

        @Option(parsing: .unconditional, help: "Images in the ASMK index timed for query latency.")
        var asmkImages: Int = 10_000

        @Flag(help: "Print the figures as one JSON object.")
        var json = false

        func validate() throws {
            guard count >= 2 else { throw ValidationError("--count must be at least 2") }
            guard threads >= 1, features >= 1, size >= 32, asmkImages >= 1 else {
                throw ValidationError("--threads, --features, --asmk-images must be positive and --size at least 32")
            }
        }

        func run() throws {
            guard let result = LocalFeatureBenchmark.run(
                imagesDirectory: images.map { URL(fileURLWithPath: $0) }, count: count, maximumFeatures: features,
                imageSize: size, threads: threads, asmkImages: asmkImages, log: { Console.error($0) })
            else {
                Console.error("error: fewer than two readable photographs, or too few features for a vocabulary")
                throw LandmarkExitCode.failure
            }
            print(json ? JSONOutput.line(result) : result.description)
        }
    }

    struct Pipeline: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pipeline",
            abstract: "Time per query of every retrieval stage (search, αQE, DQE, discriminative and spatial re-ranking, diffusion) on a 10k-image index (--count 100000 for 100k).",
            discussion: """
            The index is synthetic (clustered unit vectors of the default descriptor's 1280 dimensions, labels \
            per cluster); spatial verification of the top 100 matches real RootSIFT features of the photographs \
            in --images (default ../shared/devset, else synthetic photographs) cycled over the index.
            """)

        @Option(help: "Folder of photographs whose local features the spatial stage matches.")
        var images: String?

        @Option(parsing: .unconditional, help: "Images in the index.")
        var count: Int = 10_000

        @Option(parsing: .unconditional, help: "Queries timed.")
        var queries: Int = 20

        func run() throws {
            guard count > 1, queries > 0 else { throw ValidationError("--count must be > 1 and --queries positive") }
            let (files, _) = BenchmarkSuite.photographs(images.map { URL(fileURLWithPath: $0) }, log: { Console.error($0) })
            do {
                let result = try PipelineStageBenchmark.run(databaseCount: count, queries: queries,
                                                            images: Array(files.prefix(12)), log: { Console.error($0) })
                print(result.description)
            } catch {
                throw fail(error)
            }
        }
    }

    struct Search: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "search",
            abstract: "Exact, inverted-file (IVF, IVF-PQ) and graph (HNSW) search on a synthetic store: build time, memory, queries/s at 1 and all threads, recall@1/10/100 against exact.",
            discussion: """
            The vectors are clustered unit vectors near a 64-dimensional subspace (ClusteredVectors), written to \
            a descriptor store and searched from its memory map, as an index directory is. With --export-raw the \
            same vectors are also written as raw float32 (database.f32, queries.f32) for \
            scripts/bench_search_side_by_side.sh, which runs FAISS on them.

            Examples: landmark bench search --count 1000000 --dimension 512 --index IVF4096,PQ64 --index HNSW32
                      landmark bench search --count 1000000 --dimension 1280 --float16 --index Flat,f16
            """)

        @Option(parsing: .unconditional, help: "Vectors in the store.")
        var count: Int = 100_000

        @Option(parsing: .unconditional, help: "Components per vector.")
        var dimension: Int = 512

        @Option(parsing: .unconditional, help: "Queries (exact search answers them in one batch).")
        var queries: Int = 1000

        @Flag(help: "Store the vectors as float16 (searched in float16 blocks converted per block).")
        var float16 = false

        @Option(help: "Index to measure besides exact search (repeatable): IVF<cells>,Flat, IVF<cells>,PQ<bytes>, OPQ<bytes>,IVF<cells>,PQ<bytes>, HNSW<links>.")
        var index: [String] = ["IVF1024,PQ64", "HNSW32"]

        @Option(help: "Cells probed, comma-separated, for IVF indexes.")
        var nprobe: String = "8,16,32,64"

        @Option(help: "Beam widths, comma-separated, for HNSW.")
        var efSearch: String = "32,64,128,256"

        @Option(parsing: .unconditional, help: "Product-quantised candidates re-scored with full vectors.")
        var rerank: Int = 256

        @Option(help: "Directory for the store (and raw vectors); a temporary one, removed afterwards, when absent. When it holds database.f32 and queries.f32 (raw float32 rows of --dimension) and --export-raw is not given, those vectors are measured instead of synthetic ones.")
        var data: String?

        @Flag(help: "Also write database.f32 and queries.f32 for the FAISS side-by-side script.")
        var exportRaw = false

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        func run() throws {
            guard count > 0, dimension > 0, queries > 0 else { throw ValidationError("--count, --dimension and --queries must be positive") }
            func numbers(_ text: String, _ name: String) throws -> [Int] {
                let values = text.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
                guard !values.isEmpty, values.allSatisfy({ $0 > 0 }) else { throw ValidationError("\(name) takes positive numbers separated by commas") }
                return values
            }
            let factories: [IndexFactory]
            do {
                factories = try index.map { text throws(VectorIndexError) in try IndexFactory(parsing: text) }
            } catch {
                throw ValidationError(error.description)
            }
            let directory: URL
            let temporary = data == nil
            if let data {
                directory = URL(fileURLWithPath: data)
            } else {
                directory = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-bench-search-\(getpid())")
            }
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { if temporary { try? FileManager.default.removeItem(at: directory) } }
            do {
                let report = try ApproximateSearchBenchmark.run(
                    count: count, dimension: dimension, queries: queries, float16: float16, factories: factories,
                    probes: try numbers(nprobe, "--nprobe"), efSearch: try numbers(efSearch, "--ef-search"),
                    rerankDepth: rerank, dataDirectory: directory, exportRaw: exportRaw, log: { Console.error($0) })
                print(json ? JSONOutput.line(report) : report.table)
            } catch let error as ValidationError {
                throw error
            } catch {
                Console.error("error: \(error)")
                throw LandmarkExitCode.failure
            }
        }
    }

    struct Synthetic: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "synthetic",
            abstract: "Write an index of clustered synthetic vectors, for benchmarks at scale (kNN graph, database backend).",
            discussion: """
            The images are named images/NNNNNNNNN.jpg and have no files; the vectors are unit vectors in \
            clusters, like real descriptors, from fixed seeds (the same index on every run).

            Example: landmark bench synthetic /tmp/knn-200k --count 200000 --dimension 128
            """)

        @Argument(help: "Index directory to create (must not exist, or be empty).")
        var indexDirectory: String

        @Option(parsing: .unconditional, help: "Vectors.")
        var count: Int = 200_000

        @Option(parsing: .unconditional, help: "Components per vector.")
        var dimension: Int = 128

        func run() throws {
            guard count > 0, dimension > 0 else { throw ValidationError("--count and --dimension must be positive") }
            let directory = URL(fileURLWithPath: indexDirectory)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path), !names.isEmpty {
                throw ValidationError("\(indexDirectory) is not empty")
            }
            try IndexUpdateBenchmark.writeSyntheticIndex(count: count, dimension: dimension, to: directory)
            print("\(indexDirectory): \(count) synthetic vectors of \(dimension) components")
        }
    }

    struct Database: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "database",
            abstract: "Queries per second through PostgreSQL + pgvector next to the in-process index, on synthetic vectors.",
            discussion: """
            Writes --count clustered vectors as an index (in a temporary folder), searches --queries held-out \
            vectors in process (exact, Flat), then copies the index into the table of each --method and \
            searches it through the database, reporting queries/s and agreement with the exact top 10.

            Example: landmark bench database --database postgresql://landmark@127.0.0.1:15432/landmark --count 1000000 --method exact,ivfflat:1000
            """)

        @OptionGroup var database: DatabaseOptions

        @Option(parsing: .unconditional, help: "Vectors in the index.")
        var count: Int = 100_000

        @Option(parsing: .unconditional, help: "Components per vector.")
        var dimension: Int = 128

        @Option(parsing: .unconditional, help: "Queries.")
        var queries: Int = 100

        @Option(help: "Comma-separated ways the database searches: exact, hnsw[:LINKS], ivfflat:LISTS.")
        var method: String = "exact"

        @Option(parsing: .unconditional, help: "Threads (and database connections) the queries are spread over.")
        var threads: Int = ProcessInfo.processInfo.activeProcessorCount

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        func run() throws {
            guard count > 0, dimension > 0, queries > 0, threads > 0 else { throw ValidationError("--count, --dimension, --queries and --threads must be positive") }
            guard let url = database.resolvedURL else { throw ValidationError("give --database URL (or set \(DatabaseOptions.urlEnvironmentVariable))") }
            let methods: [PgVectorTable.Method]
            do {
                methods = try method.split(separator: ",").map { text throws(DatabaseError) in try PgVectorTable.Method(parsing: String(text)) }
            } catch {
                throw ValidationError(error.description)
            }
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-bench-database-\(getpid())")
            defer { try? FileManager.default.removeItem(at: directory) }
            do {
                let report = try DatabaseBenchmark.run(count: count, dimension: dimension, queries: queries, methods: methods, url: url,
                                                       table: database.table, directory: directory, threads: threads, log: { Console.error($0) })
                print(json ? JSONOutput.line(report) : report.table, terminator: json ? "\n" : "")
            } catch {
                Console.error("error: \(error)")
                throw LandmarkExitCode.failure
            }
        }
    }

    struct Grow: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "grow",
            abstract: "Add synthetic distractor descriptors to an index, to benchmark real queries at scale.",
            discussion: """
            The distractors are unit vectors clustered like real descriptors, named distractors/NNNNNNNNN.jpg \
            (no files exist for them). scripts/load_test.sh grows a devset index to 100,000 images this way.

            Example: landmark bench grow /tmp/devset-index --count 100000
            """)

        @Argument(help: "Index directory made by `landmark index` (global descriptors, no local features).")
        var indexDirectory: String

        @Option(parsing: .unconditional, help: "Distractors to add.")
        var count: Int = 100_000

        func run() throws {
            guard count > 0 else { throw ValidationError("--count must be positive") }
            do {
                let total = try IndexUpdateBenchmark.addDistractors(to: URL(fileURLWithPath: indexDirectory), count: count,
                                                                    log: { Console.error($0) })
                print("\(indexDirectory): \(total) images")
            } catch let error as PipelineError {
                throw fail(error)
            }
        }
    }

    struct Update: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "update",
            abstract: "An update in place on a large synthetic index: bytes written against the index's size, time, and the recall of the updated search index against one trained afresh.",
            discussion: """
            Builds an index of --count clustered vectors with --index, adds --add (a fraction of --count) and \
            removes --remove of them as `landmark index` does on a changed folder (a new segment, tombstones, \
            the search index updated without retraining), then compacts.

            Example: landmark bench update --count 1000000 --dimension 512 --index IVF1024,PQ64 --add 0.01
            """)

        @Option(parsing: .unconditional, help: "Vectors in the index before the update.")
        var count: Int = 100_000

        @Option(parsing: .unconditional, help: "Components per vector.")
        var dimension: Int = 512

        @Flag(help: "Store the vectors as float16.")
        var float16 = false

        @Option(name: .customLong("index"), help: "Search index: Flat, IVF<cells>,Flat, IVF<cells>,PQ<bytes>, OPQ<bytes>,IVF<cells>,PQ<bytes> or HNSW<links>.")
        var factory: String = "IVF1024,PQ64"

        @Option(parsing: .unconditional, help: "Share of --count added.")
        var add: Double = 0.01

        @Option(parsing: .unconditional, help: "Share of --count removed.")
        var remove: Double = 0.001

        @Option(help: "Directory for the index; a temporary one, removed afterwards, when absent. It must be empty.")
        var data: String?

        @Flag(help: "Print the report as one JSON object.")
        var json = false

        func run() throws {
            guard count > 0, dimension > 0, (0 ... 1).contains(add), (0 ... 1).contains(remove) else {
                throw ValidationError("--count and --dimension must be positive, --add and --remove within 0…1")
            }
            let parsed: IndexFactory
            do {
                parsed = try IndexFactory(parsing: factory)
            } catch {
                throw ValidationError(error.description)
            }
            let directory = data.map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.temporaryDirectory.appendingPathComponent("landmark-bench-update-\(getpid())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            guard (try FileManager.default.contentsOfDirectory(atPath: directory.path)).isEmpty else {
                throw ValidationError("--data \(directory.path) is not empty")
            }
            defer { if data == nil { try? FileManager.default.removeItem(at: directory) } }
            do {
                let report = try IndexUpdateBenchmark.run(count: count, dimension: dimension, float16: float16, factory: parsed,
                                                          addedFraction: add, removedFraction: remove, directory: directory,
                                                          log: { Console.error($0) })
                print(json ? JSONOutput.line(report) : report.table)
            } catch {
                Console.error("error: \(error)")
                throw LandmarkExitCode.failure
            }
        }
    }
}
