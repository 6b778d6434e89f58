import Foundation
import LandmarkLinearAlgebra

/// What the K voting neighbours say about how sure a prediction is, beyond its raw score s_ŷ: the
/// inputs of `RecognitionCalibration`.
public struct PredictionEvidence: Sendable, Equatable, Codable {
    /// s_ŷ / K: the best label's score per voting neighbour.
    public var score: Double
    /// (s_ŷ − s_second) / K: how far the best label is ahead of the next one (s_ŷ / K when alone).
    public var margin: Double
    /// The highest similarity of a neighbour carrying the best label.
    public var similarity: Double
    /// The largest saturated inlier term min(inliers, τ)/τ of a neighbour carrying the best label (0 when
    /// nothing was verified).
    public var verification: Double

    public init(score: Double, margin: Double, similarity: Double, verification: Double) {
        self.score = score
        self.margin = margin
        self.similarity = similarity
        self.verification = verification
    }

    var features: [Double] { [score, margin, similarity, verification] }
    static let featureCount = 4
}

extension KNNRecognition {
    /// The evidence behind `predict(neighbours)`'s answer (all zero without neighbours).
    public func evidence(_ neighbours: [RecognitionNeighbour], prediction: RecognitionPrediction) -> PredictionEvidence {
        guard let best = prediction.scores.first else { return PredictionEvidence(score: 0, margin: 0, similarity: 0, verification: 0) }
        let voters = neighbours.prefix(self.neighbours).filter { $0.label == best.label }
        let count = Double(max(self.neighbours, 1))
        let second = prediction.scores.count > 1 ? prediction.scores[1].score : 0
        let verification = voters.map { Double(min(max($0.inliers ?? 0, 0), inlierSaturation)) / Double(inlierSaturation) }.max() ?? 0
        return PredictionEvidence(score: best.score / count, margin: (best.score - second) / count,
                                  similarity: Double(voters.map(\.similarity).max() ?? 0), verification: verification)
    }
}

/// A calibrated confidence for kNN recognition: P(the predicted landmark is right) by logistic regression
/// on `PredictionEvidence`, and the probability below which the answer is "no landmark".
///
/// The raw score s_ŷ is not comparable across queries: a distractor's nearest neighbours vote just as
/// confidently as a landmark's when they all happen to share a label. The fit learns from the labelled set
/// itself, by cross-validation: every image predicted with itself left out is an example that is right or
/// wrong, and every image predicted with its whole landmark left out is an example of a photo whose
/// landmark is unknown, which must be answered "no landmark" — so no distractors are needed to learn
/// rejection. Those unknown-landmark examples are weighted so that they make up `unknownShare` of the
/// weight, the share of unknown photos the threshold is tuned for.
public struct RecognitionCalibration: Sendable, Equatable, Codable {
    /// Logistic weights of `PredictionEvidence.features`, and the bias.
    public var weights: [Double]
    public var bias: Double
    /// Answers with a calibrated confidence below this are "no landmark".
    public var threshold: Double

    public init(weights: [Double], bias: Double, threshold: Double = 0.5) {
        precondition(weights.count == PredictionEvidence.featureCount, "one weight per evidence feature")
        self.weights = weights
        self.bias = bias
        self.threshold = threshold
    }

    /// P(right) for one prediction's evidence.
    public func probability(_ evidence: PredictionEvidence) -> Double {
        var logit = bias
        for (weight, feature) in zip(weights, evidence.features) { logit += weight * feature }
        return 1 / (1 + exp(-logit))
    }

    /// The prediction with its confidence replaced by the calibrated probability, and its label removed
    /// when that probability is below the threshold.
    public func apply(_ prediction: RecognitionPrediction, evidence: PredictionEvidence) -> RecognitionPrediction {
        var calibrated = prediction
        calibrated.confidence = prediction.label == nil && prediction.scores.isEmpty ? 0 : probability(evidence)
        if calibrated.confidence < threshold { calibrated.label = nil }
        return calibrated
    }

    /// One training example: a prediction's evidence, whether its label was right, and its weight.
    public struct Example: Sendable, Equatable {
        public var evidence: PredictionEvidence
        public var isRight: Bool
        public var weight: Double

        public init(evidence: PredictionEvidence, isRight: Bool, weight: Double = 1) {
            self.evidence = evidence
            self.isRight = isRight
            self.weight = weight
        }
    }

    /// Weighted L2-regularised logistic regression by Newton's method (the bias is not regularised).
    /// Newton's method on this strictly convex problem converges in a few steps to the unique optimum, so
    /// the result does not depend on a learning rate or on the order of the examples.
    /// - Parameter regularisation: λ of λ/2·‖w‖², relative to the total example weight.
    public static func fit(_ examples: [Example], regularisation: Double = 1e-3, threshold: Double = 0.5,
                           iterations: Int = 50) -> RecognitionCalibration {
        let dimension = PredictionEvidence.featureCount + 1
        var parameters = [Double](repeating: 0, count: dimension)
        let totalWeight = max(examples.reduce(0) { $0 + $1.weight }, 1e-12)
        let rows = examples.map { $0.evidence.features + [1] }
        for _ in 0 ..< iterations {
            var gradient = [Double](repeating: 0, count: dimension)
            var hessian = [Double](repeating: 0, count: dimension * dimension)
            for (row, example) in zip(rows, examples) {
                var logit = 0.0
                for index in 0 ..< dimension { logit += parameters[index] * row[index] }
                let p = 1 / (1 + exp(-logit))
                let weight = example.weight / totalWeight
                let residual = p - (example.isRight ? 1 : 0)
                let curvature = max(p * (1 - p), 1e-12)
                for i in 0 ..< dimension {
                    gradient[i] += weight * residual * row[i]
                    for j in 0 ..< dimension { hessian[i * dimension + j] += weight * curvature * row[i] * row[j] }
                }
            }
            for i in 0 ..< dimension - 1 {
                gradient[i] += regularisation * parameters[i]
                hessian[i * dimension + i] += regularisation
            }
            hessian[(dimension - 1) * dimension + dimension - 1] += 1e-12
            guard let step = LinearSystem.solve(hessian, gradient, n: dimension) else { break }
            var largest = 0.0
            for index in 0 ..< dimension {
                parameters[index] -= step[index]
                largest = max(largest, abs(step[index]))
            }
            if largest < 1e-10 { break }
        }
        return RecognitionCalibration(weights: Array(parameters.prefix(dimension - 1)), bias: parameters[dimension - 1],
                                      threshold: threshold)
    }
}
