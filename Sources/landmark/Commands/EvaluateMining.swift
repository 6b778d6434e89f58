import LandmarkGeometry
import ArgumentParser
import Foundation
import LandmarkEvaluation
import LandmarkMining
import LandmarkPipeline

/// Options of `landmark evaluate --task mining` (the same meaning as `landmark mine`'s).
struct MiningOptions: ParsableArguments {
    @Option(help: "An index of the dataset's images with local features (`landmark index DATASET --out INDEX --local rootsift-asmk`); its match-graph cache is reused. Default: build one in a temporary directory with the descriptor options.")
    var miningIndex: String?

    @Option(parsing: .unconditional, help: "Neighbours of every image to verify.")
    var shortlist: Int = 20

    @Option(help: "Distinct inliers a mined edge needs.")
    var miningMinInliers: Int = VerificationThresholds.miningEdge

    @Option(parsing: .unconditional, help: "Smallest mined cluster kept.")
    var minClusterSize: Int = 2

    @Option(parsing: .unconditional, help: ArgumentHelp("Cut a bridge edge with fewer distinct inliers than this.", valueName: "inliers"))
    var splitWeakBridges: Int?
}

extension EvaluateCommand {
    /// Mines the folder benchmark without reading its labels, then scores clusters and tuples against them.
    func runMining() throws {
        let options = miningOptions
        guard options.shortlist > 0, options.miningMinInliers > 0, options.minClusterSize >= 2 else {
            throw ValidationError("--shortlist and --mining-min-inliers must be positive, --min-cluster-size at least 2")
        }
        let datasetURL = URL(fileURLWithPath: dataset)
        let benchmark: FolderBenchmark
        do {
            benchmark = try FolderBenchmark.load(datasetURL)
        } catch {
            throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
        }
        var temporary: URL?
        defer { if let temporary { try? FileManager.default.removeItem(at: temporary) } }
        let indexURL: URL
        if let miningIndex = options.miningIndex {
            indexURL = URL(fileURLWithPath: miningIndex)
        } else {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-mining-\(UUID().uuidString)")
            temporary = directory
            indexURL = directory
            let extractor = try descriptorOptions.makeExtractor()
            let progress = ProgressBar(label: "indexing", enabled: !quiet)
            do {
                _ = try IndexBuilder.build(images: datasetURL, index: directory, extractor: extractor,
                                           local: LocalIndexConfiguration(vocabularySize: vocabularySize),
                                           progress: progress.handler)
            } catch {
                throw fail(error)
            }
        }
        let index: RetrievalIndex
        do {
            index = try RetrievalIndex.open(indexURL)
        } catch {
            throw fail(error)
        }
        let evaluation = MiningEvaluation(shortlist: options.shortlist, minimumInliers: options.miningMinInliers,
                                          minimumClusterSize: options.minClusterSize, weakBridgeInliers: options.splitWeakBridges)
        let report: MiningEvaluation.Report
        do {
            report = try evaluation.evaluate(index, benchmark: benchmark, dataset: dataset,
                                             progress: ProgressBar(label: "verifying", enabled: !quiet).handler)
        } catch {
            Console.error("error: \(error)")
            throw LandmarkExitCode.failure
        }
        if json {
            print(JSONOutput.line(report))
            return
        }
        let scores = report.scores
        print(String(format: "%@ [mining]: %d images, %d clusters (%d images) for %d landmarks  pair precision %.3f  recall %.3f  purity %.3f  positives %.3f  %.1f s",
                     report.dataset, report.images, scores.clusters, scores.clusteredImages, scores.landmarks,
                     scores.pairPrecision, scores.pairRecall, scores.purity, scores.positivePrecision ?? .nan, report.seconds))
        let rate = report.verifiedPairsPerSecond.map { String(format: ", %.0f pairs/s", $0) } ?? " (all from the cache)"
        print("\(report.pairsVerified) verified pairs, \(report.newlyVerifiedPairs) verified now\(rate); \(report.edges) edges, \(report.tuples) tuples; cluster sizes "
            + report.clusterSizes.map(String.init).joined(separator: " "))
    }
}
