import Foundation
import LandmarkDescriptors
import Testing

/// `landmark mine`, `landmark whiten learn --pairs` and `landmark evaluate --task mining` end to end on a
/// small synthetic folder benchmark, with the weight-free descriptor and real RootSIFT verification.
@Suite(.serialized) struct MiningCommandLineTests {
    struct MineSummary: Decodable {
        var images: Int
        var pairsVerified: Int
        var clusters: Int
        var clusteredImages: Int
        var tuples: Int
    }

    struct EvaluationReport: Decodable {
        struct Scores: Decodable {
            var pairPrecision: Double
            var purity: Double
            var clusters: Int
        }

        var pairsVerified: Int
        var newlyVerifiedPairs: Int
        var scores: Scores
    }

    @Test func mineThenLearnWhiteningFromThePairsThenScoreTheMining() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let data = temporary.path("data"), index = temporary.path("index"), mined = temporary.path("mined")
        _ = try makeSyntheticDataset(in: data, landmarks: 4, views: 4, distractors: 2)
        let indexed = try runLandmark(executable, ["index", data.path, "--out", index.path, "--descriptor", "baseline",
                                                   "--local", "rootsift-asmk", "--vocabulary-size", "16", "--quiet"])
        #expect(indexed.status == 0, "\(indexed.error)")

        let mine = try runLandmark(executable, ["mine", index.path, "--out", mined.path, "--shortlist", "6", "--min-inliers", "8",
                                                "--ground-truth", data.path, "--json", "--quiet"])
        #expect(mine.status == 0, "\(mine.error)")
        let summary = try JSONDecoder().decode(MineSummary.self, from: Data(mine.output.utf8))
        #expect(summary.images == 18 && summary.clusters > 0 && summary.tuples > 0)
        let clusters = try String(contentsOf: mined.appendingPathComponent("clusters.tsv"), encoding: .utf8)
            .split(separator: "\n")
        #expect(clusters.first == "image\tcluster")
        #expect(clusters.count == summary.clusteredImages + 1)
        for picture in ["clusters.png", "cluster-sizes.png", "tuples.tsv", "mining.json"] {
            #expect(FileManager.default.fileExists(atPath: mined.appendingPathComponent(picture).path), "\(picture) missing")
        }

        let whitening = temporary.path("whitening.json")
        let learned = try runLandmark(executable, ["whiten", "learn", index.path, "--pairs", mined.path, "--out", whitening.path])
        #expect(learned.status == 0, "\(learned.error)")
        #expect(learned.error.contains("shrinkage intensity"), "the shrinkage used is reported")
        #expect(try Whitening.load(contentsOf: whitening).kind == .learned)

        let missing = try runLandmark(executable, ["whiten", "learn", index.path, "--pairs", temporary.path("nowhere").path,
                                                   "--out", temporary.path("w2.json").path])
        #expect(missing.status != 0 && missing.error.contains("nowhere"), "\(missing.error)")
        #expect(!FileManager.default.fileExists(atPath: temporary.path("w2.json").path))

        let evaluated = try runLandmark(executable, ["evaluate", "--task", "mining", "--dataset", data.path, "--mining-index", index.path,
                                                     "--shortlist", "6", "--mining-min-inliers", "8", "--json", "--quiet"])
        #expect(evaluated.status == 0, "\(evaluated.error)")
        let report = try JSONDecoder().decode(EvaluationReport.self, from: Data(evaluated.output.utf8))
        #expect(report.pairsVerified == summary.pairsVerified)
        #expect(report.newlyVerifiedPairs == 0, "every pair came from the index's match-graph cache")
        #expect(report.scores.clusters == summary.clusters)
        #expect((0...1).contains(report.scores.pairPrecision) && (0...1).contains(report.scores.purity))
    }
}

/// Issue 14, 7: a labels file is read relative to its own folder and labels an index of whichever
/// folder holds the images (here `data/images`, with `data/ground_truth.tsv` listing `images/…`).
@Suite struct LabelsFileResolutionTests {
    @Test func labelsBesideTheIndexedFolderLabelItsImages() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let data = temporary.path("data"), index = temporary.path("index")
        let entries = try makeSyntheticDataset(in: data, landmarks: 3, views: 3, distractors: 1)
        let indexed = try runLandmark(executable, ["index", data.appendingPathComponent("images").path, "--out", index.path,
                                                   "--descriptor", "baseline", "--quiet"])
        #expect(indexed.status == 0, "\(indexed.error)")
        let learned = try runLandmark(executable, ["whiten", "learn", index.path, "--ground-truth",
                                                   data.appendingPathComponent("ground_truth.tsv").path,
                                                   "--out", temporary.path("whitening.json").path])
        #expect(learned.status == 0, "\(learned.error)")
        // Without --labels, recognition finds the ground truth beside the indexed folder.
        let query = data.appendingPathComponent(try #require(entries.first { $0.landmark != nil }).relativePath)
        let recognized = try runLandmark(executable, ["recognize", index.path, query.path, "--no-calibration", "--json"])
        #expect(recognized.status == 0, "\(recognized.error)")
        #expect(recognized.output.contains(try #require(entries.first { $0.landmark != nil }?.landmark)))
    }
}

/// Issue 14, 8: numbers and odd file names on the command line.
@Suite struct SearchOutputWordingTests {
    @Test func negativeTopIsANumberAndNewlinesInNamesStayOnOneLine() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images"), index = temporary.path("index")
        let entries = try makeSyntheticDataset(in: images, landmarks: 1, views: 2, distractors: 0)
        let query = images.appendingPathComponent(entries[0].relativePath)
        try FileManager.default.copyItem(at: query, to: images.appendingPathComponent("two\nlines.jpg"))
        let indexed = try runLandmark(executable, ["index", images.path, "--out", index.path, "--descriptor", "baseline", "--quiet"])
        #expect(indexed.status == 0, "\(indexed.error)")

        let negative = try runLandmark(executable, ["search", index.path, query.path, "--top", "-1"])
        #expect(negative.status != 0 && negative.error.contains("--top must be positive"), "\(negative.error)")
        // Every numeric option reads a negative value as a number and refuses it by name, not as an unknown flag.
        for (arguments, message) in [
            (["search", index.path, query.path, "--nprobe", "-2"], "--nprobe must be at least 1"),
            (["search", index.path, query.path, "--neighbours", "-3"], "--neighbours must be positive"),
            (["verify", query.path, query.path, "--threshold", "-1"], "--threshold"),
            (["serve", index.path, "--port", "-5"], "--port must lie between 0 and 65535"),
        ] {
            let refused = try runLandmark(executable, arguments)
            #expect(refused.status == 64 && refused.error.contains(message), "\(arguments): \(refused.error)")
        }

        let plain = try runLandmark(executable, ["search", index.path, query.path, "--top", "3"])
        #expect(plain.status == 0, "\(plain.error)")
        let lines = plain.output.split(separator: "\n")
        #expect(lines.count == 4, "the query line and three results, one per line: \(plain.output)")
        #expect(plain.output.contains("two\\nlines.jpg"))
    }
}
