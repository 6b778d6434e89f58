import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkImage
import LandmarkPipeline
import Testing

/// End-to-end tests of `evaluate --pipeline/--ablation/--task recognition`, `search --pipeline` and
/// `recognize` on the real executable, with the weight-free baseline descriptor.
@Suite(.serialized) struct PipelineCommandLineTests {
    /// The JSON objects of an output, one a line.
    static func jsonLines(_ output: String) throws -> [[String: Any]] {
        try output.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any], "not a JSON object: \($0)")
        }
    }

    /// Builds a baseline index of `folder` (the whole synthetic benchmark directory).
    static func index(_ executable: URL, _ folder: URL, into index: URL, extra: [String] = []) throws {
        let result = try runLandmark(executable, ["index", folder.path, "--out", index.path, "--descriptor", "baseline",
                                                  "--quiet"] + extra)
        #expect(result.status == 0, "\(result.error)")
    }

    @Test func ablationWritesATableACSVAndAChart() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 4, views: 4, distractors: 4)
        let prefix = temporary.path("report")
        let rankings = temporary.path("rankings.jsonl")
        let result = try runLandmark(executable, [
            "evaluate", "--dataset", dataset.path, "--pipeline", "baseline,aqe2,qe3,dba2", "--ablation",
            "--ablation-out", prefix.path, "--rankings-out", rankings.path, "--json", "--quiet",
        ])
        #expect(result.status == 0, "\(result.error)")
        let table = try JSONDecoder().decode(AblationTable.self, from: Data(result.output.utf8))
        #expect(table.rows.map(\.stage) == ["search", "aqe2", "qe3", "dba2"])
        #expect(table.rows.map(\.pipeline) == ["baseline", "baseline,aqe2", "baseline,aqe2,qe3", "baseline,aqe2,qe3,dba2"])
        for row in table.rows {
            #expect((0...1).contains(row.meanAveragePrecision))
            #expect((0...1).contains(row.meanPrecisionAt10))
        }

        let csv = try String(contentsOf: prefix.appendingPathExtension("csv"), encoding: .utf8)
        let lines = csv.split(separator: "\n")
        #expect(lines.count == 5)
        #expect(lines.first == "stage,pipeline,mAP,mP@10,seconds_per_query")
        #expect(lines.dropFirst().map { String($0.prefix { $0 != "," }) } == ["search", "aqe2", "qe3", "dba2"])

        let png = try ImageDecoder.decode(contentsOf: prefix.appendingPathExtension("png"))
        let chart = table.chart()
        #expect(png.width == chart.width)
        #expect(png.height == chart.height)

        // The rankings are those of the whole pipeline: 16 queries, each ranking the 19 other images.
        let ranked = try RankingsFile.read(rankings)
        #expect(ranked.count == 16)
        for ranking in ranked {
            #expect(ranking.ranking.count == 19)
            #expect(Set(ranking.ranking).count == 19)
            #expect(!ranking.ranking.contains(ranking.query))
        }

        // The text form names every stage and both files.
        let text = try runLandmark(executable, [
            "evaluate", "--dataset", dataset.path, "--descriptor", "baseline", "--pipeline", "aqe2,dba2", "--ablation",
            "--ablation-out", temporary.path("text").path, "--quiet",
        ])
        #expect(text.status == 0, "\(text.error)")
        for stage in ["search", "aqe2", "dba2", "text.csv", "text.png"] { #expect(text.output.contains(stage), "\(stage)") }
        let textCSV = try String(contentsOf: temporary.path("text.csv"), encoding: .utf8)
        #expect(textCSV.split(separator: "\n").count == 4)
    }

    @Test func spatialStagesOfAnEvaluationUseTheFolderLocalFeatures() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 3, views: 3, distractors: 1)
        let rankings = temporary.path("rankings.jsonl")
        let result = try runLandmark(executable, [
            "evaluate", "--dataset", dataset.path, "--pipeline", "baseline,spatial20t5,dqe20", "--ablation",
            "--ablation-out", temporary.path("spatial").path, "--rankings-out", rankings.path, "--json", "--quiet",
        ])
        #expect(result.status == 0, "\(result.error)")
        let table = try JSONDecoder().decode(AblationTable.self, from: Data(result.output.utf8))
        #expect(table.rows.map(\.stage) == ["search", "spatial20t5", "dqe20"])
        // Views of one façade share many features, other façades few: verification can only help here.
        if table.rows.count == 3 { #expect(table.rows[1].meanAveragePrecision >= table.rows[0].meanAveragePrecision) }
        let ranked = try RankingsFile.read(rankings)
        #expect(ranked.count == 9)
        for ranking in ranked { #expect(Set(ranking.ranking).count == 9 && !ranking.ranking.contains(ranking.query)) }
    }

    @Test func malformedOrIncompletePipelinesAreRefused() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 2, views: 3, distractors: 1)

        let malformed = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "baseline,aqe2,bogus7", "--quiet"])
        #expect(malformed.status == 64)
        #expect(malformed.error.contains("bogus7"), "\(malformed.error)")

        // A dre stage without a train set is a usage error caught before any image is described.
        let noTrainSet = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "baseline,dre10", "--quiet"])
        #expect(noTrainSet.status == 64)
        #expect(noTrainSet.error.contains("--train-index"), "\(noTrainSet.error)")

        let ablationWithoutStages = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "baseline",
                                                                 "--ablation", "--quiet"])
        #expect(ablationWithoutStages.status == 64)
        #expect(ablationWithoutStages.error.contains("--ablation"), "\(ablationWithoutStages.error)")

        let index = temporary.path("index")
        try Self.index(executable, dataset, into: index)
        let query = dataset.appendingPathComponent("images/distractor__1.jpg").path
        let malformedSearch = try runLandmark(executable, ["search", index.path, query, "--pipeline", "aqe2,zzz"])
        #expect(malformedSearch.status == 64)
        #expect(malformedSearch.error.contains("zzz"), "\(malformedSearch.error)")
    }

    @Test func discriminativeRerankingRunsWithATrainIndexOfAnotherFolder() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 3, views: 4, distractors: 2)
        let train = temporary.path("train")
        _ = try makeSyntheticDataset(in: train, landmarks: 3, views: 3, distractors: 1, seed: 11)
        let trainIndex = temporary.path("train-index")
        try Self.index(executable, train, into: trainIndex)

        // Labels default to the train index's folder (its ground_truth.tsv).
        let result = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "baseline,aqe2,dre10",
                                                  "--train-index", trainIndex.path, "--json", "--quiet"])
        #expect(result.status == 0, "\(result.error)")
        let object = try #require(try Self.jsonLines(result.output).first)
        #expect(object["queries"] as? Int == 12)
        let mAP = try #require(object["mAP"] as? Double)
        #expect((0...1).contains(mAP))
        #expect((object["descriptor"] as? String)?.hasSuffix("dre10") == true, "\(object)")

        // Explicit labels that name none of the train index's images are refused.
        let labels = temporary.path("labels.tsv")
        try Data("image\tlandmark\nnot/there.jpg\tsomewhere\n".utf8).write(to: labels)
        let unlabelled = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "baseline,dre10",
                                                      "--train-index", trainIndex.path, "--train-labels", labels.path, "--quiet"])
        #expect(unlabelled.status == 1)
        #expect(unlabelled.error.contains("label"), "\(unlabelled.error)")

        // A train index made with another descriptor than the evaluation's is refused.
        let mismatch = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--pipeline", "gem-lite2,dre10",
                                                    "--train-index", trainIndex.path, "--quiet"])
        #expect(mismatch.status != 0)
    }

    @Test func recognitionTaskPrintsOneReportOrTwoWithTheInlierTerm() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        _ = try makeSyntheticDataset(in: dataset, landmarks: 4, views: 4, distractors: 4)

        let global = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "recognition",
                                                  "--pipeline", "baseline", "--json", "--quiet"])
        #expect(global.status == 0, "\(global.error)")
        let globalReports = try Self.jsonLines(global.output)
        // The raw votes, then (last) the defaults: calibrated confidence and "no landmark".
        #expect(globalReports.count == 2)
        let report = try #require(globalReports.first)
        let calibrated = try #require(globalReports.last)
        #expect(report["calibrated"] as? Bool == false && calibrated["calibrated"] as? Bool == true)
        #expect((calibrated["pipeline"] as? String)?.hasSuffix(",calibrated") == true)
        #expect((0...1).contains(try #require(calibrated["distractors_rejected"] as? Double)))
        #expect([1, 3, 5, 10].contains(try #require(calibrated["K"] as? Int)))
        #expect((0...1).contains(try #require(calibrated["GAP_without_distractors"] as? Double)))
        #expect(report["task"] as? String == "recognition")
        #expect(report["labelled_queries"] as? Int == 16)
        #expect(report["distractor_queries"] as? Int == 4)
        #expect(report["lambda"] as? Double == 0)
        let gap = try #require(report["GAP"] as? Double)
        let accuracy = try #require(report["accuracy"] as? Double)
        #expect((0...1).contains(gap))
        #expect((0...1).contains(accuracy))
        // Four landmarks: a guess is right a quarter of the time.
        #expect(accuracy > 0.5)

        let spatial = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "recognition",
                                                   "--pipeline", "baseline,spatial", "--json", "--quiet"])
        #expect(spatial.status == 0, "\(spatial.error)")
        let spatialReports = try Self.jsonLines(spatial.output)
        #expect(spatialReports.count == 3)
        #expect(spatialReports.map { $0["lambda"] as? Double } == [0, 1, 1])
        for report in spatialReports {
            #expect((0...1).contains(try #require(report["GAP"] as? Double)))
            #expect((0...1).contains(try #require(report["accuracy"] as? Double)))
        }
        // Without the inlier term the votes are those of the global run.
        #expect(spatialReports.first?["GAP"] as? Double == gap)
        #expect(spatialReports.first?["accuracy"] as? Double == accuracy)
        #expect((spatialReports[1]["pipeline"] as? String)?.hasSuffix("spatial100") == true)
        #expect((spatialReports.last?["pipeline"] as? String)?.hasSuffix("spatial100,calibrated") == true)

        let text = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "recognition",
                                                "--pipeline", "baseline", "--quiet"])
        #expect(text.status == 0)
        #expect(text.output.split(separator: "\n").count == 3)
        #expect(text.output.contains("GAP"))

        // Recognition pipelines are a descriptor and at most the inlier term.
        let refused = try runLandmark(executable, ["evaluate", "--dataset", dataset.path, "--task", "recognition",
                                                   "--pipeline", "baseline,aqe2", "--quiet"])
        #expect(refused.status == 64)
    }

    @Test func searchPipelinesReturnTheRequestedNumberOfResults() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        let entries = try makeSyntheticDataset(in: dataset, landmarks: 3, views: 4, distractors: 3)
        let index = temporary.path("index")
        try Self.index(executable, dataset, into: index)
        let queries = entries.filter { $0.landmark != nil }.prefix(2).map { dataset.appendingPathComponent($0.relativePath).path }
        let indexed = Set(entries.map(\.relativePath))

        for pipeline in ["aqe2", "qe3", "aqe2,qe3", "dba2,qe2", "dba2,diffusion3q1"] {
            let result = try runLandmark(executable, ["search", index.path] + queries + ["--pipeline", pipeline, "--top", "5", "--json"])
            #expect(result.status == 0, "\(pipeline): \(result.error)")
            let lines = try Self.jsonLines(result.output)
            #expect(lines.count == 2, "\(pipeline)")
            for (line, query) in zip(lines, queries) {
                #expect(line["query"] as? String == query)
                let results = try #require(line["results"] as? [[String: Any]], "\(pipeline)")
                #expect(results.count == 5, "\(pipeline)")
                let images = results.compactMap { $0["image"] as? String }
                #expect(Set(images).count == 5, "\(pipeline)")
                #expect(Set(images).isSubset(of: indexed), "\(pipeline): \(images)")
            }
        }

        // Database-side augmentation is cached in the index's search cache and gives the same answer again.
        let cacheFolder = index.appendingPathComponent("search-cache")
        let cache = cacheFolder.appendingPathComponent("augmented-dba2a3.lmd")
        #expect(FileManager.default.fileExists(atPath: cache.path))
        let first = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "dba2", "--top", "4", "--json"])
        let second = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "dba2", "--top", "4", "--json"])
        #expect(first.status == 0 && second.status == 0)
        #expect(first.output == second.output)

        // So is the diffusion graph, one file per DBA state, and a damaged one is rebuilt.
        let graph = cacheFolder.appendingPathComponent("diffusion-graph-k3-dba2.lmg")
        #expect(FileManager.default.fileExists(atPath: graph.path))
        let diffused = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "dba2,diffusion3q1", "--top", "4", "--json"])
        var bytes = try Data(contentsOf: graph)
        bytes[bytes.count - 9] ^= 0x40
        try bytes.write(to: graph)
        let rebuilt = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "dba2,diffusion3q1", "--top", "4", "--json"])
        #expect(diffused.status == 0 && rebuilt.status == 0)
        #expect(diffused.output == rebuilt.output)
        #expect(try Data(contentsOf: graph) != bytes)

        // A query that is itself indexed comes first under query expansion.
        let own = try Self.jsonLines(try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "aqe2",
                                                                  "--top", "1", "--json"]).output)
        let top = (own.first?["results"] as? [[String: Any]])?.first?["image"] as? String
        #expect(top.map { queries[0].hasSuffix($0) } == true, "\(String(describing: top))")

        // The pipeline may name the index's own descriptor, and no other.
        let named = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "baseline,aqe2", "--top", "5", "--json"])
        #expect(named.status == 0, "\(named.error)")
        #expect((try Self.jsonLines(named.output).first?["results"] as? [[String: Any]])?.count == 5)
        let otherDescriptor = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "gem-lite2,aqe2"])
        #expect(otherDescriptor.status == 64)
        #expect(otherDescriptor.error.contains(GradientColourHistogramBaseline.name), "\(otherDescriptor.error)")

        // Discriminative re-ranking needs a labelled train index; the index itself (labelled by its folder) will do.
        let noTrain = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "dre10"])
        #expect(noTrain.status == 64)
        #expect(noTrain.error.contains("--train-index"), "\(noTrain.error)")
        let withTrain = try runLandmark(executable, ["search", index.path] + queries
                                        + ["--pipeline", "aqe2,dre10", "--train-index", index.path, "--top", "5", "--json"])
        #expect(withTrain.status == 0, "\(withTrain.error)")
        let reranked = try Self.jsonLines(withTrain.output)
        #expect(reranked.count == 2)
        for line in reranked { #expect((line["results"] as? [[String: Any]])?.count == 5) }
        // The index images' labels were predicted once and kept; a second search reuses them unchanged.
        let cached = try FileManager.default.contentsOfDirectory(atPath: cacheFolder.path).filter { $0.hasPrefix("predicted-labels-") }
        #expect(cached.count == 1, "\(cached)")
        let again = try runLandmark(executable, ["search", index.path] + queries
                                    + ["--pipeline", "aqe2,dre10", "--train-index", index.path, "--top", "5", "--json"])
        #expect(again.output == withTrain.output)

        // Spatial verification needs the index's local features.
        let spatial = try runLandmark(executable, ["search", index.path, queries[0], "--pipeline", "spatial100"])
        #expect(spatial.status == 1)
        #expect(spatial.error.contains("--local"), "\(spatial.error)")
    }

    @Test func spatialSearchPipelineRunsOnAnIndexWithLocalFeatures() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let dataset = temporary.path("dataset")
        let entries = try makeSyntheticDataset(in: dataset, landmarks: 2, views: 3, distractors: 1)
        let index = temporary.path("index")
        try Self.index(executable, dataset, into: index, extra: ["--local", "rootsift-asmk", "--vocabulary-size", "16"])
        let query = dataset.appendingPathComponent(try #require(entries.first).relativePath).path
        // Spatial verification, and score fusion with the index's ASMK (fully weighted: ASMK alone orders).
        for pipeline in ["aqe2,spatial100t5", "fusion10w1"] {
            let result = try runLandmark(executable, ["search", index.path, query, "--pipeline", pipeline,
                                                      "--top", "3", "--json"])
            #expect(result.status == 0, "\(pipeline): \(result.error)")
            let line = try #require(try Self.jsonLines(result.output).first)
            let results = try #require(line["results"] as? [[String: Any]])
            #expect(results.count == 3)
            // The query is in the index: it matches itself with every feature, so it stays first.
            let top = results.first?["image"] as? String
            #expect(top.map { query.hasSuffix($0) } == true, "\(pipeline): \(String(describing: top))")
        }
    }

    @Test func recognizePredictsTheLandmarkOfAnUnseenView() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let train = temporary.path("train")
        let entries = try makeSyntheticDataset(in: train, landmarks: 3, views: 5, distractors: 2)
        // Hold the last view of every landmark out of the train folder; label the rest with a TSV.
        let held = temporary.path("held")
        try FileManager.default.createDirectory(at: held, withIntermediateDirectories: true)
        var queries: [(path: String, landmark: String)] = []
        var labels = "image\tlandmark\n"
        for entry in entries {
            guard let landmark = entry.landmark else { continue }
            if entry.relativePath.hasSuffix("__5.jpg") {
                let destination = held.appendingPathComponent(URL(fileURLWithPath: entry.relativePath).lastPathComponent)
                try FileManager.default.moveItem(at: train.appendingPathComponent(entry.relativePath), to: destination)
                queries.append((destination.path, landmark))
            } else {
                labels += "\(entry.relativePath)\t\(landmark)\n"
            }
        }
        #expect(queries.count == 3)
        let labelsURL = temporary.path("labels.tsv")
        try Data(labels.utf8).write(to: labelsURL)
        try FileManager.default.removeItem(at: train.appendingPathComponent("ground_truth.tsv"))
        let index = temporary.path("index")
        try Self.index(executable, train, into: index)

        for pipeline in ["global", "global,spatial"] {
            let result = try runLandmark(executable, ["recognize", index.path] + queries.map(\.path)
                                         + ["--labels", labelsURL.path, "--pipeline", pipeline, "--json", "--no-calibration"])
            #expect(result.status == 0, "\(pipeline): \(result.error)")
            let lines = try Self.jsonLines(result.output)
            #expect(lines.count == queries.count)
            var correct = 0
            for (line, query) in zip(lines, queries) {
                #expect(line["query"] as? String == query.path)
                if line["landmark"] as? String == query.landmark { correct += 1 }
                let neighbours = try #require(line["neighbours"] as? [[String: Any]])
                #expect(neighbours.count == 3)
                // Distractors carry no label, so they never vote.
                #expect(!neighbours.contains { ($0["image"] as? String)?.contains("distractor") == true })
                if pipeline == "global,spatial" { #expect(neighbours.allSatisfy { $0["inliers"] is Int }) }
                else { #expect(neighbours.allSatisfy { $0["inliers"] == nil }) }
            }
            // Three landmarks: guessing names one right on average.
            #expect(correct >= 2, "\(pipeline): \(result.output)")
        }

        // By default the confidence is calibrated on the train index itself, once, and cached there.
        for run in 0 ..< 2 {
            let calibrated = try runLandmark(executable, ["recognize", index.path] + queries.map(\.path)
                                             + ["--labels", labelsURL.path, "--pipeline", "global", "--json"])
            #expect(calibrated.status == 0, "\(calibrated.error)")
            #expect(calibrated.error.contains("calibrated on 12 train images"), "\(calibrated.error)")
            let lines = try Self.jsonLines(calibrated.output)
            #expect(lines.count == queries.count)
            var right = 0
            for (line, query) in zip(lines, queries) {
                let confidence = try #require(line["confidence"] as? Double)
                #expect((0 ... 1).contains(confidence), "run \(run): a probability, got \(confidence)")
                if line["landmark"] as? String == query.landmark { right += 1 }
                // Never a wrong landmark here: a doubtful answer is "no landmark".
                #expect(line["landmark"] == nil || line["landmark"] as? String == query.landmark, "\(calibrated.output)")
            }
            #expect(right >= 2, "\(calibrated.output)")
            let cached = try FileManager.default.contentsOfDirectory(atPath: index.path).filter { $0.hasPrefix("recognition-calibration-") }
            #expect(cached.count == 1)
        }

        // An indexed view is recognised as its own landmark.
        let indexed = try #require(entries.first { $0.landmark != nil })
        let own = try runLandmark(executable, ["recognize", index.path, train.appendingPathComponent(indexed.relativePath).path,
                                               "--labels", labelsURL.path, "--pipeline", "global", "--json"])
        #expect(own.status == 0, "\(own.error)")
        #expect(try Self.jsonLines(own.output).first?["landmark"] as? String == indexed.landmark)

        // Without --labels the train folder's ground_truth.tsv is read; here there is none.
        let noTruth = try runLandmark(executable, ["recognize", index.path, queries[0].path, "--pipeline", "global"])
        #expect(noTruth.status == 1)
        #expect(noTruth.error.contains("ground_truth.tsv"), "\(noTruth.error)")
        // Labels that name none of the index's images: refused with a pointer to --labels.
        let otherLabels = temporary.path("other.tsv")
        try Data("image\tlandmark\nelsewhere/x.jpg\tnowhere\n".utf8).write(to: otherLabels)
        let unlabelled = try runLandmark(executable, ["recognize", index.path, queries[0].path, "--labels", otherLabels.path,
                                                      "--pipeline", "global"])
        #expect(unlabelled.status == 1)
        #expect(unlabelled.error.contains("--labels"), "\(unlabelled.error)")
    }
}
