import LandmarkGeometry
import Foundation
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
import LandmarkRecognition

/// Figures of one leave-one-out recognition run on a folder benchmark.
public struct RecognitionReport: Sendable, Codable {
    public var dataset: String
    public var pipeline: String
    public var neighbours: Int
    public var inlierWeight: Double
    public var inlierSaturation: Int
    public var scores: RecognitionScores
    /// Predicted landmark and confidence of every query image, by name.
    public var predictions: [String: RecognitionPrediction]
    public var skipped: [SkippedImage]
    public var seconds: Double
    /// Confidence calibrated and "no landmark" answered, K and calibration chosen by cross-validation
    /// over landmarks (`CalibratedLeaveOneOut`).
    public var calibrated: Bool = false
    /// GAP over the landmark queries only (distractors left out), NaN when not computed.
    public var gapWithoutDistractors: Double = .nan
    /// With `calibrated`: how many images' folds chose each K, and each "no landmark" threshold.
    public var chosenNeighbours: [Int: Int] = [:]
    public var chosenThresholds: [Double: Int] = [:]

    /// The flat JSON object scripts read.
    public var summary: [String: JSONScalar] {
        [
            "dataset": .string(dataset), "pipeline": .string(pipeline), "task": .string("recognition"),
            "K": .integer(neighbours), "lambda": .number(inlierWeight), "tau": .integer(inlierSaturation),
            "GAP": .number(scores.globalAveragePrecision), "accuracy": .number(scores.accuracy),
            "labelled_queries": .integer(scores.labelledQueries),
            "distractor_queries": .integer(scores.distractorQueries),
            "distractors_rejected": .number(scores.distractorsRejected),
            "skipped": .integer(skipped.count), "seconds": .number(seconds),
            "calibrated": .boolean(calibrated), "GAP_without_distractors": .number(gapWithoutDistractors),
            "no_landmark_below": .number(chosenThresholds.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 0),
        ]
    }
}

/// kNN recognition by leave-one-out on a folder benchmark (METHODS.md §4): every labelled image is a
/// query against all other labelled images as the train set; distractors are queries whose right answer
/// is "no landmark", so a confident prediction for one lowers GAP.
public struct RecognitionEvaluation: Sendable {
    public var recognition: KNNRecognition
    public var verifier: SpatialVerifier

    public init(recognition: KNNRecognition = KNNRecognition(),
                verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC, minimumInliers: VerificationThresholds.recognitionCounting)) {
        self.recognition = recognition
        self.verifier = verifier
    }

    /// Predicts every image of `prepared`; the inlier term is used when `recognition.inlierWeight > 0`
    /// and local features were extracted.
    public func evaluate(_ prepared: PreparedFolderBenchmark, pipeline: String) -> RecognitionReport {
        let start = Date()
        let benchmark = prepared.benchmark
        let labels = prepared.databaseImages.map { benchmark.labels[$0] }
        let database = prepared.database
        let similarities = database.rows > 0 ? database.multiplied(byTransposeOf: database) : Matrix(rows: 0, columns: 0)
        var inliers: ((Int, Int) -> Int?)? = nil
        if recognition.inlierWeight > 0, prepared.localFeatures.count == database.rows {
            let features = prepared.localFeatures
            let verifier = verifier
            inliers = { query, neighbour in
                guard let a = features[query], let b = features[neighbour] else { return nil }
                return verifier.verify(a, b).inlierCount
            }
        }
        let predictions = LeaveOneOutRecognition.predict(labels: labels, similarities: similarities,
                                                         recognition: recognition, inliers: inliers)
        let scores = LeaveOneOutRecognition.score(labels: labels, predictions: predictions)
        let landmarkQueries = labels.indices.filter { labels[$0] != nil }
        let withoutDistractors = LeaveOneOutRecognition.score(labels: landmarkQueries.map { labels[$0] },
                                                              predictions: landmarkQueries.map { predictions[$0] })
        var byName: [String: RecognitionPrediction] = [:]
        for (row, prediction) in predictions.enumerated() { byName[benchmark.images[prepared.databaseImages[row]]] = prediction }
        return RecognitionReport(
            dataset: benchmark.directory.path, pipeline: pipeline, neighbours: recognition.neighbours,
            inlierWeight: inliers == nil ? 0 : recognition.inlierWeight, inlierSaturation: recognition.inlierSaturation,
            scores: scores, predictions: byName, skipped: prepared.skipped,
            seconds: Date().timeIntervalSince(start), gapWithoutDistractors: withoutDistractors.globalAveragePrecision)
    }

    /// Leave-one-out recognition with the calibrated confidence and "no landmark" answers, K and the
    /// calibration chosen per landmark on the other landmarks (`CalibratedLeaveOneOut`). The pairs the
    /// inlier term needs are verified together, spread over the cores.
    public func evaluateCalibrated(_ prepared: PreparedFolderBenchmark, pipeline: String,
                                   settings: CalibratedLeaveOneOut) -> RecognitionReport {
        let start = Date()
        let benchmark = prepared.benchmark
        let labels = prepared.databaseImages.map { benchmark.labels[$0] }
        let database = prepared.database
        let similarities = database.rows > 0 ? database.multiplied(byTransposeOf: database) : Matrix(rows: 0, columns: 0)
        var settings = settings
        var inliers: ((Int, Int) -> Int?)? = nil
        if settings.inlierWeight > 0, prepared.localFeatures.count == database.rows {
            let features = prepared.localFeatures
            inliers = verifier.calibrationInliers(settings, labels: labels, similarities: similarities,
                                                  features: { features[$0] })
        } else {
            settings.inlierWeight = 0
        }
        let outcome = settings.predict(labels: labels, similarities: similarities, inliers: inliers)
        let scores = LeaveOneOutRecognition.score(labels: labels, predictions: outcome.predictions)
        let landmarkQueries = labels.indices.filter { labels[$0] != nil }
        let withoutDistractors = LeaveOneOutRecognition.score(labels: landmarkQueries.map { labels[$0] },
                                                              predictions: landmarkQueries.map { outcome.predictions[$0] })
        var byName: [String: RecognitionPrediction] = [:]
        for (row, prediction) in outcome.predictions.enumerated() { byName[benchmark.images[prepared.databaseImages[row]]] = prediction }
        var chosen: [Int: Int] = [:]
        for k in outcome.chosenNeighbours { chosen[k, default: 0] += 1 }
        var thresholds: [Double: Int] = [:]
        for threshold in outcome.chosenThresholds { thresholds[threshold, default: 0] += 1 }
        return RecognitionReport(
            dataset: benchmark.directory.path, pipeline: pipeline, neighbours: outcome.neighbours,
            inlierWeight: settings.inlierWeight, inlierSaturation: settings.inlierSaturation,
            scores: scores, predictions: byName, skipped: prepared.skipped, seconds: Date().timeIntervalSince(start),
            calibrated: true, gapWithoutDistractors: withoutDistractors.globalAveragePrecision, chosenNeighbours: chosen,
            chosenThresholds: thresholds)
    }
}

extension SpatialVerifier {
    /// Inliers of every (image, neighbour) pair a calibrated leave-one-out run votes with — each image's own
    /// neighbours and its landmark-hidden ones — verified together over the cores, as a lookup.
    func calibrationInliers(_ settings: CalibratedLeaveOneOut, labels: [String?], similarities: Matrix,
                            features: @escaping @Sendable (Int) -> LocalFeatures?,
                            progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> (Int, Int) -> Int? {
        let lists = settings.neighbourLists(labels: labels, similarities: similarities)
        var pairs: [(first: Int, second: Int)] = []
        var seen = Set<SIMD2<Int>>()
        for query in labels.indices {
            for row in lists.own[query] + lists.landmarkHidden[query].compactMap({ $0 })
            where seen.insert(SIMD2(query, row)).inserted { pairs.append((query, row)) }
        }
        let counts = inlierCounts(pairs, firstFeatures: features, secondFeatures: features, progress: progress)
        var table: [SIMD2<Int>: Int] = [:]
        for (pair, count) in zip(pairs, counts) { table[SIMD2(pair.first, pair.second)] = count }
        return { table[SIMD2($0, $1)] }
    }
}
