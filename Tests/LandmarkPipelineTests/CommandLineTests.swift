import Foundation
import LandmarkEvaluation
import LandmarkPipeline
import Testing

/// End-to-end tests of the real `landmark` executable.
@Suite(.serialized) struct CommandLineTests {
    @Test func killedIndexingResumesToTheSameStore() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        _ = try makeSyntheticDataset(in: images, landmarks: 10, views: 5, distractors: 10)

        // Reference: one uninterrupted run.
        let reference = try runLandmark(executable, ["index", images.path, "--out", temporary.path("reference").path,
                                                     "--checkpoint-every", "2", "--quiet"])
        #expect(reference.status == 0, "\(reference.error)")

        // Interrupted run: kill it as soon as its second checkpoint exists.
        let interrupted = temporary.path("interrupted")
        let checkpoint = interrupted.appendingPathComponent(IndexLayout.workDirectoryName + "/shard-000001.lmd")
        let killed = try runLandmarkKilled(executable, ["index", images.path, "--out", interrupted.path, "--checkpoint-every", "2", "--quiet"],
                                           whenExists: checkpoint)
        #expect(killed, "indexing finished before it could be interrupted")
        #expect(FileManager.default.fileExists(atPath: checkpoint.path))
        #expect(!FileManager.default.fileExists(atPath: interrupted.appendingPathComponent("index.json").path))

        let resumed = try runLandmark(executable, ["index", images.path, "--out", interrupted.path, "--json", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.error)")
        let summary = try JSONDecoder().decode(IndexBuildSummary.self, from: Data(resumed.output.utf8))
        #expect(summary.reused >= 4)
        #expect(summary.reused + summary.described == summary.total)
        let referenceStore = try Data(contentsOf: temporary.path("reference/descriptors.lmd"))
        let resumedStore = try Data(contentsOf: interrupted.appendingPathComponent("descriptors.lmd"))
        #expect(referenceStore == resumedStore)
    }

    @Test("an update of a changed folder killed mid-way resumes to the uninterrupted update's files, and a sharded index searches like a single one")
    func killedUpdateAndShardsFromTheCommandLine() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 10, views: 5, distractors: 10).map(\.relativePath).sorted()
        let held = temporary.path("held")
        try FileManager.default.createDirectory(at: held, withIntermediateDirectories: true)
        let newcomers = entries.enumerated().filter { $0.offset % 3 == 0 }.map(\.element)
        for name in newcomers {
            try FileManager.default.moveItem(at: images.appendingPathComponent(name), to: held.appendingPathComponent(name.replacingOccurrences(of: "/", with: "_")))
        }
        func restore(into folder: URL) throws {
            for name in newcomers {
                try FileManager.default.copyItem(at: held.appendingPathComponent(name.replacingOccurrences(of: "/", with: "_")),
                                                 to: folder.appendingPathComponent(name))
            }
        }
        for directory in ["reference", "interrupted"] {
            let result = try runLandmark(executable, ["index", images.path, "--out", temporary.path(directory).path, "--quiet"])
            #expect(result.status == 0, "\(result.error)")
        }
        try restore(into: images)
        let reference = try runLandmark(executable, ["index", images.path, "--out", temporary.path("reference").path, "--json", "--quiet"])
        #expect(reference.status == 0, "\(reference.error)")

        let interrupted = temporary.path("interrupted")
        let killed = try runLandmarkKilled(executable, ["index", images.path, "--out", interrupted.path, "--checkpoint-every", "2", "--quiet"],
                                           whenExists: interrupted.appendingPathComponent(IndexLayout.workDirectoryName + "/shard-000001.lmd"))
        #expect(killed, "the update finished before it could be interrupted")
        // Killed before its manifest: the index is still the old one and searchable.
        let during = try runLandmark(executable, ["search", interrupted.path, images.appendingPathComponent(entries[1]).path, "--json"])
        #expect(during.status == 0, "\(during.error)")

        let resumed = try runLandmark(executable, ["index", images.path, "--out", interrupted.path, "--json", "--quiet"])
        #expect(resumed.status == 0, "\(resumed.error)")
        let summary = try JSONDecoder().decode(IndexBuildSummary.self, from: Data(resumed.output.utf8))
        #expect(summary.reused >= entries.count - newcomers.count + 4 && !summary.rewritten)
        for name in ["descriptors.lmd", "descriptors-000001.lmd"] {
            #expect(try Data(contentsOf: interrupted.appendingPathComponent(name)) == Data(contentsOf: temporary.path("reference/\(name)")), "\(name)")
        }

        // The same folder as 3 shards: the same results for every query.
        let sharded = try runLandmark(executable, ["index", images.path, "--out", temporary.path("sharded").path, "--shards", "3", "--quiet"])
        #expect(sharded.status == 0, "\(sharded.error)")
        for query in entries.prefix(6) {
            let path = images.appendingPathComponent(query).path
            let one = try runLandmark(executable, ["search", interrupted.path, path, "--json", "--top", "8"])
            let three = try runLandmark(executable, ["search", temporary.path("sharded").path, path, "--json", "--top", "8"])
            #expect(one.status == 0 && three.status == 0 && one.output == three.output, "\(query)")
        }
        let check = try runLandmark(executable, ["check", temporary.path("sharded").path])
        #expect(check.status == 0 && check.output.contains("shard-02/descriptors.lmd"), "\(check.output)")
    }

    @Test func skippedInputsGiveExitCodeThree() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0)
        try Data([0xFF, 0xD8, 0xFF, 0xE0, 0x00]).write(to: images.appendingPathComponent("truncated.jpg"))
        let result = try runLandmark(executable, ["index", images.path, "--out", temporary.path("index").path, "--quiet"])
        #expect(result.status == 3)
        #expect(result.error.contains("truncated.jpg"))
        let missing = try runLandmark(executable, ["search", temporary.path("nowhere").path, "q.jpg"])
        #expect(missing.status == 1)
        #expect(missing.error.contains("nowhere"))
        // Issue 14, 8: every input failed is a failure, and reasons carry no internal code names.
        let index = temporary.path("index").path
        let truncated = images.appendingPathComponent("truncated.jpg").path
        let allFailed = try runLandmark(executable, ["search", index, truncated])
        #expect(allFailed.status == 1, "\(allFailed.error)")
        #expect(allFailed.error.contains("truncated.jpg") && !allFailed.error.contains("truncated: "), "\(allFailed.error)")
        let oneFailed = try runLandmark(executable, ["search", index, truncated, images.appendingPathComponent(entries[0].relativePath).path])
        #expect(oneFailed.status == 3, "\(oneFailed.error)")
    }

    @Test func evaluateJSONMatchesMetricsRecomputedFromTheRankingsFile() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 4, views: 4, distractors: 4)
        let rankingsURL = temporary.path("rankings.jsonl")
        let result = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--json", "--quiet",
                                                  "--rankings-out", rankingsURL.path])
        #expect(result.status == 0, "\(result.error)")
        let object = try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any]
        let mAP = try #require(object?["mAP"] as? Double)
        #expect(object?["queries"] as? Int == 16)
        for key in ["mP@1", "mP@5", "mP@10"] { #expect(object?[key] is Double) }

        // Recompute from the rankings file alone.
        let benchmark = try FolderBenchmark.load(dataset)
        let rankings = try RankingsFile.read(rankingsURL)
        #expect(rankings.count == 16)
        let position = Dictionary(uniqueKeysWithValues: benchmark.images.enumerated().map { ($1, $0) })
        var rankingIndices: [[Int]] = []
        var groundTruth: [QueryGroundTruth] = []
        for ranking in rankings {
            let query = try #require(position[ranking.query])
            #expect(ranking.ranking.count == benchmark.images.count - 1)
            #expect(!ranking.ranking.contains(ranking.query))
            rankingIndices.append(ranking.ranking.compactMap { position[$0] })
            groundTruth.append(benchmark.groundTruth(forQuery: query))
        }
        let recomputed = RetrievalMetrics.evaluate(rankings: rankingIndices, groundTruth: groundTruth)
        #expect(abs(recomputed.meanAveragePrecision - mAP) < 1e-9)
        // Each query has 3 positives among 19 images: a random ranking scores about 0.2.
        #expect(mAP > 0.35)
    }

    @Test func helpDocumentsTheExitCodes() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let help = try runLandmark(executable, ["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("EXIT CODES"))
        #expect(help.output.contains("some input images were skipped"))
        let usage = try runLandmark(executable, ["search"])
        #expect(usage.status != 0)
    }
}
