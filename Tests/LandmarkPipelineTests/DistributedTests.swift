import Foundation
import LandmarkBenchmarks
import LandmarkDescriptors
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkMining
import LandmarkPipeline
import LandmarkSpark
import LandmarkVectorDatabase
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `spark-submit`, when scripts/services/spark.sh (run by the test script) or a Spark installation provides it.
let sparkSubmit: URL? = try? SparkCluster.locateSubmit(nil)

/// The PostgreSQL + pgvector the test script starts (scripts/services/postgres.sh), when it could.
let testDatabaseURL: String? = ProcessInfo.processInfo.environment["LANDMARK_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

@Suite struct IndexMergeTests {
    let extractor = GradientColourHistogramBaseline()

    func buildShards(_ images: URL, count: Int, into folder: URL) throws -> [URL] {
        try (0 ..< count).map { number in
            let directory = folder.appendingPathComponent("part-\(number)")
            var options = IndexBuildOptions(workerCount: 1)
            options.shard = ShardSelection(number: number, count: count)
            _ = try IndexBuilder.build(images: images, index: directory, extractor: extractor, options: options)
            return directory
        }
    }

    @Test("merging the shards of a folder writes, byte for byte, the index one run over the folder writes")
    func mergeEqualsOneRun() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 3, views: 4, distractors: 5)
        _ = try IndexBuilder.build(images: images, index: temporary.path("single"), extractor: extractor)
        let shards = try buildShards(images, count: 3, into: temporary.path("parts"))
        let summary = try IndexMerge.merge(shards: shards.reversed(), into: temporary.path("merged"))
        #expect(summary.shards == 3 && summary.images == 17 && summary.skipped == 0)
        for file in [IndexLayout.storeFileName, IndexManifest.fileName] {
            let single = try Data(contentsOf: temporary.path("single").appendingPathComponent(file))
            let merged = try Data(contentsOf: temporary.path("merged").appendingPathComponent(file))
            #expect(single == merged, "\(file) differs")
        }
        // A merge with a search index builds it over the merged rows.
        _ = try IndexMerge.merge(shards: shards, into: temporary.path("hnsw"), factory: .hierarchicalGraph(links: 8))
        let hnsw = try RetrievalIndex.open(temporary.path("hnsw"))
        #expect(hnsw.manifest.vectorIndex == .hierarchicalGraph(links: 8) && hnsw.store.count == 17)
    }

    @Test("shards that overlap, disagree or are not indexes are refused with the reason, and nothing is written")
    func badShardsAreRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 2, views: 3, distractors: 2)
        let shards = try buildShards(images, count: 2, into: temporary.path("parts"))
        let output = temporary.path("merged")
        func refusal(_ shards: [URL], into output: URL) -> String? {
            do {
                _ = try IndexMerge.merge(shards: shards, into: output)
                return nil
            } catch {
                return error.description
            }
        }
        #expect(refusal([shards[0], shards[1], shards[0]], into: output)?.contains("shards must not overlap") == true)
        #expect(refusal([shards[0], temporary.path("nothing")], into: output)?.contains("not an index directory") == true)
        #expect(refusal([], into: output)?.contains("no shard directories") == true)
        #expect(refusal([shards[0]], into: shards[0])?.contains("is also --out") == true)
        #expect(!FileManager.default.fileExists(atPath: output.appendingPathComponent(IndexManifest.fileName).path))
        // A folder that is not an index is never merged into.
        let other = temporary.path("other")
        try FileManager.default.createDirectory(at: other, withIntermediateDirectories: true)
        try Data("a photo".utf8).write(to: other.appendingPathComponent("note.txt"))
        #expect(refusal(shards, into: other)?.contains("is not empty and is not a landmark index") == true)
        #expect((try? String(contentsOf: other.appendingPathComponent("note.txt"), encoding: .utf8)) == "a photo")
    }
}

@Suite struct ShardCommandLineTests {
    @Test(.enabled(if: landmarkExecutable != nil, "the landmark executable was not built next to the tests"))
    func shardRunsMergeIntoTheSingleRunIndex() throws {
        let executable = try #require(landmarkExecutable)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 3, views: 3, distractors: 3)
        let base = ["--descriptor", "baseline", "-q"]
        // A shard no image hashes to is named as such, not as a folder without photographs.
        let occupied = Set(entries.map { ShardAssignment.shard(of: $0.relativePath, count: 100) })
        let empty = try #require((0 ..< 100).first { !occupied.contains($0) })
        let emptyRun = try runLandmark(executable, ["index", images.path, "--out", temporary.path("empty").path, "--shard", "\(empty)/100"] + base)
        #expect(emptyRun.status == 1 && emptyRun.error.contains("falls in shard \(empty)/100"), "\(emptyRun.error)")
        #expect(try runLandmark(executable, ["index", images.path, "--out", temporary.path("single").path] + base).status == 0)
        for part in ["0/2", "1/2"] {
            let run = try runLandmark(executable, ["index", images.path, "--out", temporary.path("part-\(part.prefix(1))").path, "--shard", part] + base)
            #expect(run.status == 0, "\(run.error)")
        }
        let merge = try runLandmark(executable, ["merge", temporary.path("part-0").path, temporary.path("part-1").path,
                                                 "--out", temporary.path("merged").path, "--json", "-q"])
        #expect(merge.status == 0 && merge.output.contains("\"images\":12"), "\(merge.error)")
        #expect(try Data(contentsOf: temporary.path("single").appendingPathComponent(IndexLayout.storeFileName))
                == Data(contentsOf: temporary.path("merged").appendingPathComponent(IndexLayout.storeFileName)))
        for bad in ["2/2", "1", "a/b", "-1/2"] {
            let refused = try runLandmark(executable, ["index", images.path, "--out", temporary.path("bad").path, "--shard", bad] + base)
            #expect(refused.status != 0 && refused.error.contains("--shard must be K/N"), "\(bad): \(refused.error)")
        }
        let overlapping = try runLandmark(executable, ["merge", temporary.path("part-0").path, temporary.path("part-0").path,
                                                       "--out", temporary.path("twice").path, "-q"])
        #expect(overlapping.status == 1 && overlapping.error.contains("must not overlap"))
    }
}

@Suite struct NeighborGraphTests {
    func syntheticIndex(_ temporary: TemporaryDirectory, count: Int, dimension: Int) throws -> RetrievalIndex {
        let directory = temporary.path("index")
        try IndexUpdateBenchmark.writeSyntheticIndex(count: count, dimension: dimension, to: directory)
        return try RetrievalIndex.open(directory, describingQueries: false)
    }

    @Test("the graph is every row's exact k nearest other rows; blocks join into the whole graph, bit for bit")
    func blocksJoinIntoTheGraph() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let index = try syntheticIndex(temporary, count: 300, dimension: 16)
        let whole = NeighborGraph.compute(index, k: 5, rows: 0 ..< 300)
        let matrix = index.store.matrix()
        func similarity(_ first: Int, _ second: Int) -> Double {
            var total = 0.0
            for component in 0 ..< 16 {
                total += Double(matrix.storage[first * 16 + component]) * Double(matrix.storage[second * 16 + component])
            }
            return total
        }
        for row in [0, 17, 299] {
            var others: [(row: Int, score: Double)] = []
            for other in 0 ..< 300 where other != row { others.append((other, similarity(row, other))) }
            others.sort { $0.score > $1.score }
            let expected: [Int32] = others.prefix(5).map { Int32($0.row) }
            #expect(Array(whole.neighbors(of: row)) == expected)
        }
        let blocks = [0 ..< 100, 200 ..< 300, 100 ..< 200].map { NeighborGraph.compute(index, k: 5, rows: $0, threads: 1) }
        let files = try blocks.enumerated().map { number, block in
            let url = temporary.path("block-\(number).lmk")
            try block.write(to: url)
            return (graph: try NeighborGraph.read(url), file: url.path)
        }
        #expect(try NeighborGraph.join(files) == whole)
        #expect(throws: MiningError.self) { try NeighborGraph.join(Array(files.prefix(2))) }
        #expect(throws: MiningError.self) { try NeighborGraph.join(files + [files[0]]) }
    }

    @Test("a damaged or foreign graph file is refused with the reason")
    func damagedFilesAreRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let index = try syntheticIndex(temporary, count: 40, dimension: 8)
        var bytes = NeighborGraph.compute(index, k: 3, rows: 0 ..< 40).encoded()
        #expect(try NeighborGraph.decode(bytes, file: "g") == NeighborGraph.compute(index, k: 3, rows: 0 ..< 40))
        bytes[60] ^= 1
        #expect(throws: MiningError.self) { try NeighborGraph.decode(bytes, file: "g") }
        for length in [0, 7, 20, 47] {
            #expect(throws: MiningError.self) { try NeighborGraph.decode(Array(bytes.prefix(length)), file: "g") }
        }
    }
}

@Suite struct SparkJobTests {
    @Test(.enabled(if: landmarkExecutable != nil && sparkSubmit != nil, "needs the landmark binary and spark-submit (scripts/services/spark.sh)"),
          .timeLimit(.minutes(5)))
    func indexingOnSparkEqualsOneRunAndSurvivesAFailedTask() throws {
        let executable = try #require(landmarkExecutable)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 4, views: 4, distractors: 8)
        let single = try runLandmark(executable, ["index", images.path, "--out", temporary.path("single").path, "--descriptor", "baseline", "-q"])
        #expect(single.status == 0)

        // Shard 1 is locked by this process when the job starts, so its first task fails as a lost or
        // duplicated task would; it is released once the driver reports the failure, and the retry finishes it.
        let output = temporary.path("spark")
        let shardOne = output.appendingPathComponent(IndexLayout.distributedWorkDirectoryName).appendingPathComponent("shard-01")
        try FileManager.default.createDirectory(at: shardOne, withIntermediateDirectories: true)
        let marker = output.appendingPathComponent(IndexLayout.distributedWorkDirectoryName).appendingPathComponent(IndexLayout.workMarkerFileName)
        try Data("test\n".utf8).write(to: marker)
        let lock = open(shardOne.appendingPathComponent(IndexLayout.lockFileName).path, O_RDWR | O_CREAT, 0o644)
        #expect(lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) == 0)
        let log = output.appendingPathComponent(IndexLayout.distributedWorkDirectoryName).appendingPathComponent("spark.log")
        let releaser = Thread {
            let deadline = Date().addingTimeInterval(240)
            while Date() < deadline {
                if let text = try? String(contentsOf: log, encoding: .utf8), text.contains("spark: shard-01 FAILED") { break }
                usleep(20_000)
            }
            close(lock)
        }
        releaser.start()
        let spark = try runLandmark(executable, ["index", images.path, "--out", output.path, "--descriptor", "baseline",
                                                 "--spark-master", "local[2]", "--spark-tasks", "3", "--json", "-q"])
        #expect(spark.status == 0, "\(spark.error)")
        let summary = try JSONSerialization.jsonObject(with: Data(spark.output.utf8)) as? [String: Any]
        #expect(summary?["retriedTasks"] as? [String] == ["shard-01"])
        #expect((summary?["rounds"] as? Int ?? 0) >= 2)
        for file in [IndexLayout.storeFileName, IndexManifest.fileName] {
            #expect(try Data(contentsOf: temporary.path("single").appendingPathComponent(file)) == Data(contentsOf: output.appendingPathComponent(file)),
                    "\(file) differs from the single-process run")
        }
        // Run again: every shard reuses what it described.
        let again = try runLandmark(executable, ["index", images.path, "--out", output.path, "--descriptor", "baseline",
                                                 "--spark-master", "local[2]", "--json", "-q"])
        let build = (try JSONSerialization.jsonObject(with: Data(again.output.utf8)) as? [String: Any])?["build"] as? [String: Any]
        #expect(again.status == 0 && build?["described"] as? Int == 0 && build?["reused"] as? Int == 24)
    }

    @Test(.enabled(if: landmarkExecutable != nil && sparkSubmit != nil, "needs the landmark binary and spark-submit (scripts/services/spark.sh)"),
          .timeLimit(.minutes(5)))
    func neighborGraphOnSparkEqualsOneProcess() throws {
        let executable = try #require(landmarkExecutable)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let index = temporary.path("index")
        #expect(try runLandmark(executable, ["bench", "synthetic", index.path, "--count", "3000", "--dimension", "32"]).status == 0)
        let one = try runLandmark(executable, ["knn", index.path, "--k", "7", "--out", temporary.path("one.lmk").path])
        let spark = try runLandmark(executable, ["knn", index.path, "--k", "7", "--out", temporary.path("spark.lmk").path,
                                                 "--spark-master", "local[2]", "--spark-tasks", "5"])
        #expect(one.status == 0 && spark.status == 0, "\(spark.error)")
        #expect(try Data(contentsOf: temporary.path("one.lmk")) == Data(contentsOf: temporary.path("spark.lmk")))
        // The block folder was the tool's own and is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: temporary.url.path).sorted() == ["index", "one.lmk", "spark.lmk"])
    }

    @Test(.enabled(if: landmarkExecutable != nil && sparkSubmit != nil, "needs the landmark binary and spark-submit (scripts/services/spark.sh)"),
          .timeLimit(.minutes(5)))
    func verificationOnSparkFillsTheCacheMiningReads() throws {
        let executable = try #require(landmarkExecutable)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 3, views: 4, distractors: 3)
        let index = temporary.path("index").path
        #expect(try runLandmark(executable, ["index", images.path, "--out", index, "--descriptor", "baseline", "--local", "rootsift-asmk", "-q"]).status == 0)
        #expect(try runLandmark(executable, ["knn", index, "--k", "5", "--out", temporary.path("graph.lmk").path]).status == 0)
        let spark = try runLandmark(executable, ["match-graph", index, "--knn", temporary.path("graph.lmk").path, "--shortlist", "5",
                                                 "--spark-master", "local[2]", "--spark-tasks", "3", "--json"])
        #expect(spark.status == 0, "\(spark.error)")
        let cache = URL(fileURLWithPath: index).appendingPathComponent("match-graph.tsv")
        let fromSpark = try String(contentsOf: cache, encoding: .utf8).split(separator: "\n").sorted()
        try FileManager.default.removeItem(at: cache)
        #expect(try runLandmark(executable, ["match-graph", index, "--knn", temporary.path("graph.lmk").path, "--shortlist", "5", "--json"]).status == 0)
        let local = try String(contentsOf: cache, encoding: .utf8).split(separator: "\n").sorted()
        #expect(fromSpark == local && fromSpark.count > 10)
        // Mining with the same shortlist verifies nothing more.
        let mined = try runLandmark(executable, ["mine", index, "--shortlist", "5", "--out", temporary.path("mined").path])
        #expect(mined.status == 0 && !mined.error.contains("verifying"), "\(mined.error)")
        #expect(!FileManager.default.fileExists(atPath: URL(fileURLWithPath: index).appendingPathComponent(".landmark-verification").path))
    }

    @Test("without spark-submit the error says where it looked and how to get it")
    func missingSparkSubmitIsExplained() {
        #expect(throws: SparkError.noSparkSubmit(looked: ["/nonexistent/spark-submit"])) {
            try SparkCluster.locateSubmit("/nonexistent/spark-submit")
        }
        #expect(SparkError.noSparkSubmit(looked: ["/nonexistent/spark-submit"]).description.contains("scripts/services/spark.sh"))
    }
}

@Suite struct VectorDatabaseTests {
    @Test(.enabled(if: testDatabaseURL != nil, "needs PostgreSQL with pgvector: LANDMARK_TEST_DATABASE_URL (scripts/services/postgres.sh, started by the test script)"))
    func exactTableRanksLikeTheIndex() throws {
        let url = try #require(testDatabaseURL)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 4, views: 4, distractors: 6)
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: GradientColourHistogramBaseline())
        var index = try RetrievalIndex.open(temporary.path("index"))
        let labels = index.store.identifiers.map { PgVectorTable.Row(image: $0, label: $0.hasPrefix("distractor") ? nil : String($0.prefix(4))) }
        let table = try PgVectorTable.write(name: "landmark_test_exact", descriptor: index.manifest.descriptor, rows: index.store.rows,
                                            images: labels, storeChecksum: index.store.fingerprint, method: .exact, url: url)
        #expect(table.images == entries.count)
        let queries = index.store.matrix()
        let local = index.vectorIndex.search(queries, k: 10)
        let remote = try PgVectorIndex(url: url, table: "landmark_test_exact", expecting: (index.store.count, index.store.fingerprint))
        let fromDatabase = try remote.searchOrThrow(queries, k: 10)
        #expect(fromDatabase.map { $0.map(\.index) } == local.map { $0.map(\.index) })
        #expect(zip(fromDatabase.joined(), local.joined()).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        // Paths and labels come back from the same rows.
        let stored = try table.images(rows: [0, 1], url: url)
        #expect(stored[0]?.image == index.store.identifiers[0] && stored[1]?.label == labels[1].label)
        // The command line: `db push`, then `search --database` prints what `search` prints, up to the
        // last bits of the scores (pgvector sums the products in another order).
        if let executable = landmarkExecutable {
            let push = try runLandmark(executable, ["db", "push", temporary.path("index").path, "--database", url, "--table", "landmark_test_cli", "-q"])
            #expect(push.status == 0, "\(push.error)")
            let query = images.appendingPathComponent(entries[0].relativePath).path
            let direct = try runLandmark(executable, ["search", temporary.path("index").path, query, "--json"])
            let remote = try runLandmark(executable, ["search", temporary.path("index").path, query, "--json",
                                                      "--database", url, "--table", "landmark_test_cli"])
            func rankedImages(_ output: String) -> [String] {
                let object = try? JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
                return (object?["results"] as? [[String: Any]])?.compactMap { $0["image"] as? String } ?? []
            }
            #expect(remote.status == 0 && rankedImages(remote.output) == rankedImages(direct.output) && !rankedImages(direct.output).isEmpty, "\(remote.error)")
            let stale = try runLandmark(executable, ["search", temporary.path("index").path, query, "--database", url, "--table", "landmark_test_small"])
            #expect(stale.status == 1 && stale.error.contains("another version of the index") || stale.error.contains("no such landmark table"))
        }
        // The pipeline searches through it unchanged.
        try index.searchGlobalDescriptors(with: remote)
        #expect(index.search(descriptors: queries, top: 3).map { $0.map(\.image) }
                == local.map { $0.prefix(3).map { index.store.identifiers[$0.index] } })
    }

    @Test(.enabled(if: testDatabaseURL != nil, "needs PostgreSQL with pgvector: LANDMARK_TEST_DATABASE_URL (scripts/services/postgres.sh, started by the test script)"))
    func mismatchesAndBadInputAreRefused() throws {
        let url = try #require(testDatabaseURL)
        let rows = DatabaseRows(Matrix(rows: 3, columns: 2, storage: [1, 0, 0, 1, 0.6, 0.8]))
        let images = ["a.jpg", "b\tc.jpg", "d\\e.jpg"].map { PgVectorTable.Row(image: $0, label: nil) }
        let table = try PgVectorTable.write(name: "landmark_test_small", descriptor: "synthetic", rows: rows, images: images,
                                            storeChecksum: 42, method: .exact, url: url)
        #expect(try table.images(rows: [1, 2], url: url).mapValues(\.image) == [1: "b\tc.jpg", 2: "d\\e.jpg"])
        #expect(throws: DatabaseError.self) { try PgVectorIndex(url: url, table: "landmark_test_small", expecting: (3, 43)) }
        #expect(throws: DatabaseError.self) { try PgVectorIndex(url: url, table: "no_such_table") }
        for name in ["Robert'); DROP TABLE x;--", "", "1abc", PgVectorTable.catalogTable] {
            #expect(throws: DatabaseError.self) { try PgVectorTable.checkName(name) }
        }
        #expect(throws: DatabaseError.self) { try PgVectorIndex(url: "postgresql://nobody@127.0.0.1:1/none", table: "landmark_test_small") }
        // An approximate table answers through pgvector's index.
        _ = try PgVectorTable.write(name: "landmark_test_small", descriptor: "synthetic", rows: rows, images: images,
                                    storeChecksum: 42, method: .hnsw(links: 4, efConstruction: 16), url: url)
        let hnsw = try PgVectorIndex(url: url, table: "landmark_test_small")
        #expect(try hnsw.searchOrThrow(Matrix(rows: 1, columns: 2, storage: [1, 0]), k: 1).first?.first?.index == 0)
    }

    @Test(.enabled(if: testDatabaseURL != nil && developmentSet != nil && CNNExtractionTests.weightsPresent,
                   "needs PostgreSQL with pgvector (LANDMARK_TEST_DATABASE_URL), ../shared/devset and the Lite2 weights"))
    func developmentSetTopTenThroughTheDatabase() throws {
        let url = try #require(testDatabaseURL)
        let devset = try #require(developmentSet)
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        _ = try IndexBuilder.build(images: devset.appendingPathComponent("images"), index: temporary.path("index"),
                                   extractor: try GlobalDescriptorRegistry.extractor(named: "cnn"))
        let index = try RetrievalIndex.open(temporary.path("index"))
        _ = try PgVectorTable.write(name: "landmark_test_devset", descriptor: index.manifest.descriptor, rows: index.store.rows,
                                    images: index.store.identifiers.map { PgVectorTable.Row(image: $0, label: nil) },
                                    storeChecksum: index.store.fingerprint, method: .exact, url: url)
        let remote = try PgVectorIndex(url: url, table: "landmark_test_devset", expecting: (index.store.count, index.store.fingerprint))
        let queries = index.store.matrix()
        #expect(try remote.searchOrThrow(queries, k: 10).map { $0.map(\.index) } == index.vectorIndex.search(queries, k: 10).map { $0.map(\.index) })
    }
}
