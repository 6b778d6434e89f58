import LandmarkGeometry
import ArgumentParser
import Foundation
import LandmarkPipeline
import LandmarkRecognition

/// The recognition options shared by `recognize` and `evaluate --task recognition`.
struct RecognitionOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "K: train-set neighbours that vote.")
    var neighbours: Int = 3

    @Option(parsing: .unconditional, help: "λ: weight of the inlier term min(inliers, τ)/τ (used when the pipeline has a spatial stage).")
    var inlierWeight: Double = 1

    @Option(help: "τ: inliers at which the inlier term saturates.")
    var inlierSaturation: Int = VerificationThresholds.recognitionSaturation

    @Option(parsing: .unconditional, help: "Confidence below which the answer is \"no landmark\".")
    var minConfidence: Double = 0

    @Option(parsing: .unconditional, help: "Calibrated recognition: share of photos of unknown landmarks the calibration assumes.")
    var unknownShare: Double = 0.05

    @Option(help: "Calibrated recognition (evaluate): K values cross-validation chooses from, comma-separated.")
    var neighbourCandidates: String = "1,3,5,10"

    func validate() throws {
        guard neighbours > 0 else { throw ValidationError("--neighbours must be positive") }
        guard unknownShare > 0, unknownShare < 1 else { throw ValidationError("--unknown-share must lie in (0, 1)") }
        guard let candidates = Self.integers(neighbourCandidates), !candidates.isEmpty, candidates.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--neighbour-candidates must be positive whole numbers separated by commas, e.g. 1,3,5,10")
        }
        guard inlierWeight >= 0, inlierSaturation > 0 else {
            throw ValidationError("--inlier-weight must be ≥ 0 and --inlier-saturation positive")
        }
    }

    static func integers(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.contains(nil) ? nil : values.compactMap { $0 }
    }

    /// The cross-validated calibration settings of `evaluate --task recognition`.
    func calibration(_ recognition: KNNRecognition) -> CalibratedLeaveOneOut {
        CalibratedLeaveOneOut(candidateNeighbours: Self.integers(neighbourCandidates) ?? [recognition.neighbours],
                              inlierWeight: recognition.inlierWeight, inlierSaturation: recognition.inlierSaturation,
                              unknownShare: unknownShare)
    }

    /// The kNN settings; the inlier term only when the pipeline verifies.
    func recognition(pipeline: PipelineDescription) throws -> KNNRecognition {
        let verifies = pipeline.needsLocalFeatures
        let others = pipeline.stages.filter { if case .spatialVerification = $0 { return false } else { return true } }
        guard others.isEmpty, pipeline.retrieval != .asmk else {
            throw ValidationError("recognition pipelines are a global descriptor, optionally with spatial (the inlier term); got '\(pipeline)'")
        }
        return KNNRecognition(neighbours: neighbours, inlierWeight: verifies ? inlierWeight : 0,
                              inlierSaturation: inlierSaturation, minimumConfidence: minConfidence)
    }
}

struct RecognizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recognize",
        abstract: "Name the landmark in each photograph by kNN voting against a labelled train index.",
        discussion: """
        Each query's K nearest labelled train images vote: label l scores Σ (similarity + λ·min(inliers, τ)/τ) \
        over its neighbours; the answer is the best label. By default the confidence is calibrated: the \
        probability that the answer is right, learnt from the train index itself (every train image \
        predicted with itself, and with its whole landmark, left out; K and the "no landmark" threshold \
        chosen by cross-validation over landmarks; cached in the index directory), and a photo whose answer \
        is probably wrong gets "no landmark". With --no-calibration the confidence is the raw score and \
        "no landmark" is answered below --min-confidence. Inliers come from RootSIFT + RANSAC verification of the K neighbours against the index's stored local features \
        (index with --local) or else the train photographs in the indexed folder (pipeline `global,spatial`, the default); \
        `--pipeline global` votes on similarities alone.
        """)

    @Argument(help: "Train index directory made by `landmark index`.")
    var trainIndex: String

    @Argument(help: "Query photographs.")
    var queries: [String]

    @Option(help: "Labels of the train images: a folder benchmark directory, an image<TAB>landmark TSV, or a GLDv2 train.csv (default: the indexed folder's ground_truth.tsv).")
    var labels: String?

    @Option(help: "Pipeline: global or global,spatial (inlier term).")
    var pipeline: String = "global,spatial"

    @OptionGroup(title: "Recognition")
    var recognitionOptions: RecognitionOptions

    @Flag(help: "One JSON object per query and line: {\"query\", \"landmark\", \"confidence\", \"neighbours\"}.")
    var json = false

    @Flag(help: "Raw vote scores as confidence, --neighbours as K, --min-confidence as the \"no landmark\" bar.")
    var noCalibration = false

    func validate() throws {
        guard !queries.isEmpty else { throw ValidationError("give at least one query image") }
    }

    struct QueryOutput: Encodable {
        var query: String
        var pipeline: String
        var landmark: String?
        var confidence: Double?
        var scores: [RecognitionPrediction.LabelScore]?
        var neighbours: [RecognitionAnswer.Neighbour]?
        var error: String?
    }

    func run() throws {
        let description: PipelineDescription
        do {
            description = try PipelineDescription.parse(pipeline)
        } catch {
            throw ValidationError(error.reason)
        }
        let recognizer = try recognitionOptions.loadRecognizer(
            trainIndex: trainIndex, labels: labels, pipeline: description, calibrates: !noCalibration, showsProgress: !json)
        let index = recognizer.index
        let answers = recognizer.recognize(queries.map { URL(fileURLWithPath: $0) })
        // The index decides the descriptor; the pipeline only whether neighbours are verified.
        let pipelineName = ([index.manifest.descriptor] + description.stages.map(\.description)).joined(separator: ",")
        var skippedCount = 0
        for (query, answer) in zip(queries, answers) {
            switch answer {
            case .success(let answer):
                if json {
                    print(JSONOutput.line(QueryOutput(
                        query: query, pipeline: pipelineName, landmark: answer.prediction.label,
                        confidence: answer.prediction.confidence, scores: answer.prediction.scores,
                        neighbours: answer.neighbours)))
                } else {
                    let name = answer.prediction.label ?? "no landmark"
                    print(String(format: "%@  %@  (confidence %.3f)", query, name, answer.prediction.confidence))
                    for neighbour in answer.neighbours {
                        let inliers = neighbour.inliers.map { "  \($0) inliers" } ?? ""
                        print(String(format: "    %.4f  %@  [%@]%@", neighbour.similarity, neighbour.image,
                                     neighbour.label, inliers))
                    }
                }
            case .failure(let skipped):
                skippedCount += 1
                Console.error("warning: skipped query \(query): \(skipped.reason)")
                if json { print(JSONOutput.line(QueryOutput(query: query, pipeline: pipelineName, error: skipped.reason))) }
            }
        }
        if let exit = LandmarkExitCode.forSkipped(skippedCount, of: queries.count) { throw exit }
    }
}

extension RecognitionOptions {
    /// Opens a labelled train index for recognition, calibrated unless `calibrates` is false: what
    /// `landmark recognize` and `landmark serve --train-index` answer with.
    func loadRecognizer(trainIndex: String, labels: String?, pipeline description: PipelineDescription,
                        calibrates: Bool, showsProgress: Bool) throws -> IndexRecognition {
        let recognition = try recognition(pipeline: description)
        let index: RetrievalIndex
        let trainLabels: LandmarkLabels
        do {
            index = try RetrievalIndex.open(URL(fileURLWithPath: trainIndex))
            let labelsPath = labels ?? LandmarkLabels.defaultPath(forImageRoot: index.manifest.imageRoot)
            trainLabels = try LandmarkLabels.load(labelsPath)
        } catch {
            if labels == nil { Console.error("hint: without --labels, the labels come from the indexed folder's ground_truth.tsv") }
            throw fail(error)
        }
        try checkPipelineDescriptor(description, matches: index)
        var recognizer = IndexRecognition(index: index, labels: trainLabels, recognition: recognition)
        guard recognizer.labelledImageCount > 0 else {
            throw fail(PipelineError(code: .invalidDataset, file: labels ?? index.manifest.imageRoot,
                                     reason: "no image of the index \(trainIndex) has a label here; pass --labels"))
        }
        guard calibrates else { return recognizer }
        let landmarkCounts = Dictionary(grouping: index.store.identifiers.compactMap { recognizer.labels.label(of: $0) }, by: { $0 })
        if landmarkCounts.count >= 2, landmarkCounts.values.contains(where: { $0.count >= 2 }) {
            let progress = ProgressBar(label: "calibrating", enabled: showsProgress)
            let (calibrated, fitted) = recognizer.calibrated(settings: calibration(recognition), progress: progress.handler)
            recognizer = calibrated
            Console.error(String(format: "calibrated on %d train images: K %d, \"no landmark\" below %.2f",
                                 fitted.images, fitted.neighbours, fitted.calibration.threshold))
        } else {
            Console.error("warning: too few labelled landmarks to calibrate (need 2, one with 2 images); raw scores are used")
        }
        return recognizer
    }
}
