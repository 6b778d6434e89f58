import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkGeometry
import LandmarkImage
import LandmarkPipeline

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure retrieval accuracy (mAP, mP@k), or with --task verification the ROC AUC of pair verification.",
        discussion: """
        --dataset is either a folder benchmark (a directory with ground_truth.tsv: header \
        `image<TAB>landmark`, paths relative to the directory, an empty landmark for a distractor; every \
        image with a landmark queries all the others), or roxford5k / rparis6k with --data-root pointing at \
        the directory that holds gnd_<name>.pkl and jpg/ (directly or in a <name>/ subdirectory). Revisited \
        datasets are scored under the Easy, Medium and Hard protocols.
        """)

    @Option(help: "Folder benchmark directory, or roxford5k / rparis6k.")
    var dataset: String

    @Option(help: "Directory holding the revisited Oxford/Paris data (for roxford5k / rparis6k).")
    var dataRoot: String?

    @OptionGroup(title: "Descriptor")
    var descriptorOptions: DescriptorOptions

    @Flag(help: "Print the figures as one JSON object.")
    var json = false

    @Option(help: "Write every query's full ranking to this file, one JSON object a line: {\"query\": …, \"ranking\": [...]}.")
    var rankingsOut: String?

    @Option(help: "Retrieve with local features instead of the global descriptor: rootsift-asmk (needs no network weights).")
    var local: String?

    @Option(help: "Visual words of the ASMK vocabulary (trained on the dataset's own descriptors) with --local.")
    var vocabularySize: Int = 1024

    @Option(help: "Re-ranking: spatial (RootSIFT + RANSAC verification of the top results).")
    var rerank: String?

    @Option(help: "Results verified per query with --rerank spatial.")
    var rerankDepth: Int = 100

    // 2000 RootSIFT features with ratio 0.8 give repetitive structures (windows, bricks) tens of chance
    // inliers; on devset, 15 lowered mAP while 80 raised it.
    @Option(help: "Inliers a result needs to be moved ahead with --rerank spatial.")
    var minInliers: Int = 80

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    @Option(help: "retrieval (mAP of rankings) or verification (ROC AUC of RANSAC inliers over every image pair of a folder benchmark).")
    var task: String = "retrieval"

    @Option(help: "With --task verification: write `a<TAB>b<TAB>positive<TAB>inliers` lines, one per pair.")
    var pairsOut: String?

    func run() throws {
        switch task.lowercased() {
        case "retrieval": break
        case "verification": return try runVerification()
        default: throw ValidationError("--task must be retrieval or verification")
        }
        // Local-feature retrieval needs no global descriptor (and so no network weights).
        let extractor: any GlobalDescriptorExtractor = local == nil
            ? try descriptorOptions.makeExtractor() : GradientColourHistogramBaseline()
        var evaluation = RetrievalEvaluation(extraction: DescriptorExtraction(extractor: extractor))
        if let rerank {
            guard rerank.lowercased() == "spatial" else { throw ValidationError("--rerank must be spatial") }
            guard rerankDepth > 0, minInliers > 0 else { throw ValidationError("--rerank-depth and --min-inliers must be positive") }
            // Non-matching pairs run RANSAC to its iteration cap; 2000 keeps re-ranking a list affordable
            // while a true match (many inliers) still stops after a few dozen iterations.
            var ransac = RANSACConfiguration()
            ransac.maximumIterations = 2000
            evaluation.spatialReranking = (SpatialVerifier(ransac: ransac, minimumInliers: minInliers), rerankDepth)
        }
        let progress = ProgressBar(label: "describing", enabled: !quiet)
        let reports: [RetrievalReport]
        let rankings: [QueryRanking]
        let name = dataset.lowercased()
        if name == "roxford5k" || name == "rparis6k" {
            guard let dataRoot else {
                throw ValidationError("--dataset \(name) needs --data-root DIR (the folder with gnd_\(name).pkl and jpg/)")
            }
            let revisited: RevisitedDataset
            do {
                revisited = try RevisitedDataset.load(name: name, root: URL(fileURLWithPath: dataRoot))
            } catch {
                throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
            }
            (reports, rankings) = evaluation.evaluate(revisited, progress: progress.handler)
        } else {
            let benchmark: FolderBenchmark
            do {
                benchmark = try FolderBenchmark.load(URL(fileURLWithPath: dataset))
            } catch {
                throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
            }
            if let local {
                guard local.lowercased() == "rootsift-asmk" else { throw ValidationError("--local must be rootsift-asmk") }
                guard vocabularySize > 1 else { throw ValidationError("--vocabulary-size must be at least 2") }
                do {
                    let result = try ASMKRetrieval(vocabularySize: vocabularySize).evaluate(benchmark, progress: progress.handler)
                    (reports, rankings) = ([result.report], result.rankings)
                } catch {
                    throw fail(error)
                }
            } else {
                let result = evaluation.evaluate(benchmark, progress: progress.handler)
                (reports, rankings) = ([result.report], result.rankings)
            }
        }
        if let rankingsOut {
            do {
                try RankingsFile.write(rankings, to: URL(fileURLWithPath: rankingsOut))
            } catch {
                throw fail(error)
            }
        }
        let skipped = reports.first?.skipped ?? []
        for image in skipped { Console.error("warning: skipped \(image.image): \(image.reason)") }
        if json {
            if reports.count == 1, let report = reports.first {
                print(JSONOutput.line(report.summary))
            } else {
                var byProtocol: [String: [String: JSONScalar]] = [:]
                for report in reports { byProtocol[report.protocolName] = report.summary }
                print(JSONOutput.line(byProtocol))
            }
        } else {
            for report in reports { print(Self.describe(report)) }
        }
        if !skipped.isEmpty { throw LandmarkExitCode.someInputsSkipped }
    }

    /// Verification needs no global descriptor: local features and RANSAC only.
    func runVerification() throws {
        let benchmark: FolderBenchmark
        do {
            benchmark = try FolderBenchmark.load(URL(fileURLWithPath: dataset))
        } catch {
            throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
        }
        // As for --rerank spatial: non-matching pairs run RANSAC to the cap, and 2000 is also OpenCV's default.
        var ransac = RANSACConfiguration()
        ransac.maximumIterations = 2000
        let evaluation = VerificationEvaluation(verifier: SpatialVerifier(ransac: ransac))
        let progress = ProgressBar(label: "extracting", enabled: !quiet)
        let report = evaluation.evaluate(benchmark, progress: progress.handler)
        if let pairsOut {
            do {
                try VerificationEvaluation.writePairs(report, images: benchmark.images, to: URL(fileURLWithPath: pairsOut))
            } catch {
                throw fail(error)
            }
        }
        for image in report.skipped { Console.error("warning: skipped \(image.image): \(image.reason)") }
        if json {
            print(JSONOutput.line(report.summary))
        } else {
            print(String(format: "%@ [verification]: %d pairs (%d positive, %d negative)  ROC AUC %.4f  mean inliers %.1f positive / %.1f negative  %.1f s",
                         report.dataset, report.pairCount, report.positives, report.negatives, report.areaUnderROC,
                         report.meanInliersPositive, report.meanInliersNegative, report.seconds))
        }
        if !report.skipped.isEmpty { throw LandmarkExitCode.someInputsSkipped }
    }

    static func describe(_ report: RetrievalReport) -> String {
        let precisions = report.meanPrecisionAt.keys.sorted()
            .map { String(format: "mP@%d %.2f", $0, 100 * (report.meanPrecisionAt[$0] ?? 0)) }
            .joined(separator: "  ")
        return String(format: "%@ [%@] %@: %d queries  mAP %.2f  %@", report.dataset, report.protocolName,
                      report.descriptor, report.queries, 100 * report.meanAveragePrecision, precisions)
    }
}
