import Foundation
import LandmarkEvaluation
import LandmarkLinearAlgebra
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
                verifier: SpatialVerifier = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC, minimumInliers: 1)) {
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
        var byName: [String: RecognitionPrediction] = [:]
        for (row, prediction) in predictions.enumerated() { byName[benchmark.images[prepared.databaseImages[row]]] = prediction }
        return RecognitionReport(
            dataset: benchmark.directory.path, pipeline: pipeline, neighbours: recognition.neighbours,
            inlierWeight: inliers == nil ? 0 : recognition.inlierWeight, inlierSaturation: recognition.inlierSaturation,
            scores: scores, predictions: byName, skipped: prepared.skipped,
            seconds: Date().timeIntervalSince(start))
    }
}
