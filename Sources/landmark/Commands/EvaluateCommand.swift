import ArgumentParser
import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkImage
import LandmarkPipeline
import LandmarkRecognition

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Measure retrieval (mAP, mP@k), recognition (GAP, accuracy) or pair verification (ROC AUC) on a benchmark.",
        discussion: """
        --dataset is either a folder benchmark (a directory with ground_truth.tsv: header \
        `image<TAB>landmark`, paths relative to the directory, an empty landmark for a distractor; every \
        image with a landmark queries all the others), or roxford5k / rparis6k with --data-root pointing at \
        the directory that holds gnd_<name>.pkl and jpg/ (directly or in a <name>/ subdirectory). Revisited \
        datasets are scored under the Easy, Medium and Hard protocols.

        PIPELINES (--pipeline): comma-separated stages after an optional descriptor, e.g. \
        gem-lite2,dba2,aqe2,spatial100,dqe100. Descriptor: <pooling>-<model>[@size] (gem, mac, spoc, rmac; \
        lite2, lite0, resnet50, resnet101, vgg16), baseline, or asmk. Stages: dba<k>[a<α>] database-side \
        augmentation; qe<k> average and aqe<k>[a<α>] α query expansion; spatial<R>[t<T>] spatial \
        verification of the top R (T inliers); dqe<R> discriminative query expansion learnt from the results a \
        spatial stage before it verified; dre<K> discriminative \
        re-ranking with a labelled train set (--train-index); diffusion<k>[q<kq>][a<α>][t<N>] diffusion on the \
        mutual k-NN graph of the images, seeded by the query's kq nearest, truncated to its top N; fusion<R>[w<w>] \
        the top R by a weighted sum of normalised global and ASMK similarities. Presets: global (the descriptor alone), best \
        (dba1,aqe3,spatial30,dqe100: the most accurate pipeline needing nothing but the evaluated folder, chosen by scripts/choose_pipeline.py). \
        Every report names its pipeline.

        RECOGNITION (--task recognition): on a folder benchmark, leave-one-out (every labelled image against \
        all other labelled images; distractors should get "no landmark"), printing GAP and accuracy, without and \
        with the inlier term when the pipeline has a spatial stage; on GLDv2, --dataset gldv2 --data-root DIR \
        --train-index INDEX (an index of DIR/train) recognises the test images of recognition_solution_v2.1.csv.
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

    @Option(help: "What to measure: retrieval (mAP, mP@k), recognition (leave-one-out GAP and accuracy on a folder benchmark), verification (ROC AUC of RANSAC inliers over every image pair of a folder benchmark), mining (the verified-match graph's clusters and tuples, mined without labels, against a folder benchmark's ground truth).")
    var task: String = "retrieval"

    @Option(help: "Pipeline: a preset (global, best) or stages such as gem-lite2,dba2,aqe2,spatial100,dqe100 (see `landmark evaluate --help`). Default: the descriptor options alone.")
    var pipeline: String?

    @Flag(help: "Run the pipeline stage by stage and print a table (stage, mAP, mP@10, ms per query); also writes --ablation-out.csv and .png.")
    var ablation = false

    @Option(help: "Path prefix of the ablation CSV and PNG files.")
    var ablationOut: String = "ablation"

    @Option(help: "Train index (made by `landmark index`) for discriminative re-ranking (stage dre).")
    var trainIndex: String?

    @Option(help: "Labels of the train index: folder benchmark directory, image<TAB>landmark TSV or GLDv2 train.csv (default: the train index's folder).")
    var trainLabels: String?

    @Option(help: "Retrieve with local features instead of the global descriptor: rootsift-asmk (needs no network weights). Same as --pipeline asmk.")
    var local: String?

    @Option(parsing: .unconditional, help: "Visual words of the ASMK vocabulary (trained on the dataset's own descriptors) with --local.")
    var vocabularySize: Int = 1024

    @Option(help: "Re-ranking: spatial (RootSIFT + RANSAC verification of the top results); appends spatial<R>t<T> to the pipeline.")
    var rerank: String?

    @Option(parsing: .unconditional, help: "Results verified per query with --rerank spatial.")
    var rerankDepth: Int = 100

    @Option(help: "Inliers a result needs to be moved ahead with --rerank spatial.")
    var minInliers: Int = PipelineDescription.defaultMinimumInliers

    @OptionGroup(title: "Recognition (--task recognition)")
    var recognitionOptions: RecognitionOptions

    @OptionGroup(title: "Mining (--task mining)")
    var miningOptions: MiningOptions

    @Option(name: .customLong("index"), help: "Search with this index instead of exact search: Flat, IVF<cells>,Flat, IVF<cells>,PQ<bytes>, OPQ<bytes>,IVF<cells>,PQ<bytes>, HNSW<links> (built over the benchmark's descriptors; an approximate index returns --search-depth results per query).")
    var indexFactory: String?

    @Option(parsing: .unconditional, help: "Results per query an approximate --index returns; positives beyond them count as not retrieved.")
    var searchDepth: Int = 100

    @OptionGroup(title: "Approximate search")
    var searchOptions: SearchParameterOptions

    @Flag(help: "Decode every JPEG in full before resizing (PIL's open + convert) instead of at a reduced DCT scale that still covers twice the network's input.")
    var fullDecode = false

    /// How the benchmark's photos are decoded (`--full-decode`).
    private var decoding: ImageDecodingOptions { ImageDecodingOptions(reducedScaleDecoding: !fullDecode) }

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    @Option(help: "With --task verification: write `a<TAB>b<TAB>positive<TAB>inliers` lines, one per pair.")
    var pairsOut: String?

    /// The pipeline the options describe.
    func pipelineDescription() throws -> PipelineDescription {
        var description = PipelineDescription()
        if let pipeline {
            do {
                description = try PipelineDescription.parse(pipeline)
            } catch {
                throw ValidationError(error.reason)
            }
        }
        if let local {
            guard local.lowercased() == "rootsift-asmk" else { throw ValidationError("--local must be rootsift-asmk") }
            guard vocabularySize > 1 else { throw ValidationError("--vocabulary-size must be at least 2") }
            guard description.retrieval == .descriptorOptions || description.retrieval == .asmk else {
                throw ValidationError("--local replaces the pipeline's descriptor; give stages only (e.g. --pipeline spatial100)")
            }
            description.retrieval = .asmk
        }
        if let rerank {
            guard rerank.lowercased() == "spatial" else { throw ValidationError("--rerank must be spatial") }
            guard rerankDepth > 0, minInliers > 0 else { throw ValidationError("--rerank-depth and --min-inliers must be positive") }
            description.stages.append(.spatialVerification(depth: rerankDepth, minimumInliers: minInliers))
        }
        return description
    }

    /// The global descriptor of the pipeline (the options' one unless the pipeline names its own).
    func extractor(for description: PipelineDescription) throws -> any GlobalDescriptorExtractor {
        switch description.retrieval {
        case .descriptorOptions: return try descriptorOptions.makeExtractor()
        case .baseline: return GradientColourHistogramBaseline()
        // Local-feature retrieval needs no global descriptor (and so no network weights).
        case .asmk: return GradientColourHistogramBaseline()
        case .cnn(let configuration, _):
            do {
                return try CNNGlobalDescriptor(configuration)
            } catch {
                Console.error("error: \(error.reason)")
                throw LandmarkExitCode.failure
            }
        }
    }

    func run() throws {
        let description = try pipelineDescription()
        let taskName = task.lowercased()
        guard ["retrieval", "recognition", "verification", "mining"].contains(taskName) else {
            throw ValidationError("--task must be retrieval, recognition, verification or mining")
        }
        if taskName == "verification" { return try runVerification() }
        if taskName == "mining" { return try runMining() }
        if ablation && (taskName != "retrieval" || description.stages.isEmpty) {
            throw ValidationError("--ablation needs --task retrieval and a pipeline with stages (e.g. --pipeline best)")
        }
        let name = dataset.lowercased()
        if indexFactory != nil, taskName != "retrieval" || description.retrieval == .asmk || ["gldv2", "roxford5k", "rparis6k"].contains(name) {
            throw ValidationError("--index applies to retrieval by global descriptors on a folder benchmark")
        }
        let extractor = try extractor(for: description)
        let progress = ProgressBar(label: "describing", enabled: !quiet)
        if name == "gldv2" {
            guard taskName == "recognition", !ablation else {
                throw ValidationError("--dataset gldv2 is evaluated with --task recognition")
            }
            guard let dataRoot, let trainIndex else {
                throw ValidationError("--dataset gldv2 needs --data-root DIR (train.csv, recognition_solution_v2.1.csv, test/) and --train-index (an index of DIR/train)")
            }
            let recognition = try recognitionOptions.recognition(pipeline: description)
            do {
                let index = try RetrievalIndex.open(URL(fileURLWithPath: trainIndex))
                let evaluation = try GLDv2RecognitionEvaluation(
                    dataset: GLDv2Dataset(root: URL(fileURLWithPath: dataRoot)), trainIndex: index,
                    recognition: recognition, verifies: description.needsLocalFeatures)
                let report = try evaluation.evaluate(pipeline: ([index.manifest.descriptor] + description.stages.map(\.description)).joined(separator: ","))
                try printRecognition([report], skipped: report.skipped)
            } catch let error as PipelineError {
                throw fail(error)
            }
            return
        }
        if name == "roxford5k" || name == "rparis6k" {
            guard taskName == "retrieval", !ablation else { throw ValidationError("\(name) is a retrieval benchmark (no --task recognition, no --ablation)") }
            guard let dataRoot else {
                throw ValidationError("--dataset \(name) needs --data-root DIR (the folder with gnd_\(name).pkl and jpg/)")
            }
            guard description.retrieval != .asmk, !description.needsLocalFeatures, !description.needsTrainSet else {
                throw ValidationError("on \(name), pipelines run global stages only (dba, qe, aqe, diffusion): there are no local features, so spatial verification and the DQE learnt from it are not available")
            }
            let revisited: RevisitedDataset
            do {
                revisited = try RevisitedDataset.load(name: name, root: URL(fileURLWithPath: dataRoot))
            } catch {
                throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
            }
            let evaluation = RetrievalEvaluation(extraction: DescriptorExtraction(extractor: extractor, decoding: decoding), stages: description.stages)
            let (reports, rankings) = evaluation.evaluate(revisited, progress: progress.handler)
            try finish(reports: reports, rankings: rankings)
            return
        }
        let benchmark: FolderBenchmark
        do {
            benchmark = try FolderBenchmark.load(URL(fileURLWithPath: dataset))
        } catch {
            throw fail(PipelineError(code: .invalidDataset, file: error.file, reason: error.reason))
        }
        var evaluation = PipelineEvaluation(extraction: DescriptorExtraction(extractor: extractor, decoding: decoding))
        if let indexFactory {
            evaluation.searchIndex = try parseIndexFactory(indexFactory)
            evaluation.searchParameters = searchOptions.parameters
            evaluation.approximateDepth = searchDepth
        }
        if description.retrieval == .asmk {
            guard taskName == "retrieval" else {
                throw ValidationError("asmk is a retrieval method; recognition votes with global descriptors")
            }
            let asmk = ASMKRetrieval(vocabularySize: vocabularySize)
            do {
                if ablation {
                    try printAblation(try evaluation.ablationASMK(benchmark, retrieval: asmk, pipeline: description,
                                                                   progress: progress.handler),
                                      dataset: benchmark.directory.path)
                } else {
                    let report = try evaluation.evaluateASMK(benchmark, retrieval: asmk, pipeline: description,
                                                             progress: progress.handler)
                    try finish(reports: [report.retrieval], rankings: report.rankings)
                }
            } catch let error as PipelineError {
                throw fail(error)
            }
            return
        }
        if taskName == "recognition" {
            let recognition = try recognitionOptions.recognition(pipeline: description)
            let prepared = evaluation.prepare(benchmark, localFeatures: description.needsLocalFeatures,
                                              progress: progress.handler)
            var reports: [RecognitionReport] = []
            if recognition.inlierWeight > 0 {
                // The same votes without the inlier term, so the term's effect is visible.
                var plain = recognition
                plain.inlierWeight = 0
                reports.append(RecognitionEvaluation(recognition: plain).evaluate(prepared, pipeline: prepared.descriptor))
            }
            let pipelineName = ([prepared.descriptor] + description.stages.map(\.description)).joined(separator: ",")
            reports.append(RecognitionEvaluation(recognition: recognition).evaluate(prepared, pipeline: pipelineName))
            // The defaults: calibrated confidence and "no landmark", K chosen by cross-validation. Last line.
            reports.append(RecognitionEvaluation(recognition: recognition).evaluateCalibrated(
                prepared, pipeline: pipelineName + ",calibrated", settings: recognitionOptions.calibration(recognition)))
            try printRecognition(reports, skipped: prepared.skipped)
            return
        }
        var trainSet: TrainSet?
        if description.needsTrainSet {
            guard let trainIndex else {
                throw ValidationError("pipeline '\(description)' has a dre stage: give --train-index (and --train-labels)")
            }
            do {
                // Labels for discriminative re-ranking: similarity voting (the inlier term would need
                // local features of the train images).
                trainSet = try TrainSet.load(
                    indexDirectory: trainIndex, labelsPath: trainLabels, descriptor: extractor.name,
                    recognition: KNNRecognition(neighbours: recognitionOptions.neighbours, inlierWeight: 0,
                                                inlierSaturation: recognitionOptions.inlierSaturation,
                                                minimumConfidence: recognitionOptions.minConfidence))
            } catch {
                throw fail(error)
            }
        }
        let prepared = evaluation.prepare(benchmark, localFeatures: description.needsLocalFeatures,
                                          progress: progress.handler)
        do {
            if ablation {
                try printAblation(try evaluation.ablation(prepared, pipeline: description, trainSet: trainSet),
                                  dataset: benchmark.directory.path)
                return
            }
            let report = try evaluation.evaluate(prepared, pipeline: description, trainSet: trainSet)
            try finish(reports: [report.retrieval], rankings: report.rankings)
        } catch let error as PipelineError {
            throw fail(error)
        }
    }

    /// Prints the ablation table, writes its CSV and PNG (and the full pipeline's rankings when asked),
    /// and sets the exit code for skipped images.
    func printAblation(_ reports: [PipelineReport], dataset: String) throws {
        let table = AblationTable(dataset: dataset, reports: reports)
        let files = try table.write(prefix: URL(fileURLWithPath: ablationOut))
        if json {
            print(JSONOutput.line(table))
        } else {
            print(table.text)
            print("wrote \(files.csv.path) and \(files.png.path)")
        }
        if let rankingsOut, let last = reports.last {
            try RankingsFile.write(last.rankings, to: URL(fileURLWithPath: rankingsOut))
        }
        let skipped = reports.first?.retrieval.skipped ?? []
        for image in skipped { Console.error("warning: skipped \(image.image): \(image.reason)") }
        if !skipped.isEmpty { throw LandmarkExitCode.someInputsSkipped }
    }

    /// Prints recognition figures and sets the exit code for skipped images.
    func printRecognition(_ reports: [RecognitionReport], skipped: [SkippedImage]) throws {
        for image in skipped { Console.error("warning: skipped \(image.image): \(image.reason)") }
        for report in reports {
            if json {
                print(JSONOutput.line(report.summary))
            } else {
                print(String(format: "%@ [recognition] %@: K %d  λ %g  τ %d  GAP %.2f (%.2f without distractors)  accuracy %.2f  (%d landmark queries, %d distractors, %.0f%% rejected)",
                             report.dataset, report.pipeline, report.neighbours, report.inlierWeight,
                             report.inlierSaturation, 100 * report.scores.globalAveragePrecision,
                             100 * report.gapWithoutDistractors,
                             100 * report.scores.accuracy, report.scores.labelledQueries,
                             report.scores.distractorQueries, 100 * report.scores.distractorsRejected))
                if report.calibrated {
                    let chosen = report.chosenNeighbours.sorted { $0.key < $1.key }.map { "K=\($0.key) ×\($0.value)" }
                    let thresholds = report.chosenThresholds.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }
                    print("  calibrated confidence; per held-out landmark, K chosen: \(chosen.joined(separator: ", ")); \"no landmark\" below: \(thresholds.joined(separator: ", "))")
                }
            }
        }
        if !skipped.isEmpty { throw LandmarkExitCode.someInputsSkipped }
    }

    /// Writes the rankings, prints the figures and sets the exit code for skipped images.
    func finish(reports: [RetrievalReport], rankings: [QueryRanking]) throws {
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
        // As for spatial re-ranking: non-matching pairs run RANSAC to the cap, and 2000 is also OpenCV's default.
        let evaluation = VerificationEvaluation(verifier: SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC))
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
