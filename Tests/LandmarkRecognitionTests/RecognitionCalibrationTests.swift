import Foundation
import LandmarkLinearAlgebra
@testable import LandmarkRecognition
import Testing

@Suite struct RecognitionCalibrationTests {
    static func evidence(_ score: Double) -> PredictionEvidence {
        PredictionEvidence(score: score, margin: 0, similarity: 0, verification: 0)
    }

    /// Two feature values, each with a fixed share of right answers: the maximum-likelihood logistic fit
    /// reproduces those shares exactly (a saturated model), so the answer is known in closed form.
    @Test func theFitReproducesTheShareOfRightAnswersAtEachFeatureValue() {
        var examples: [RecognitionCalibration.Example] = []
        for right in [true, true, true, false] { examples.append(.init(evidence: Self.evidence(0), isRight: right)) }
        for right in [true, false, false, false] { examples.append(.init(evidence: Self.evidence(1), isRight: right)) }
        let calibration = RecognitionCalibration.fit(examples, regularisation: 1e-12)
        #expect(abs(calibration.probability(Self.evidence(0)) - 0.75) < 1e-6)
        #expect(abs(calibration.probability(Self.evidence(1)) - 0.25) < 1e-6)
        #expect(abs(calibration.bias - log(3)) < 1e-5)
        #expect(abs(calibration.weights[0] + 2 * log(3)) < 1e-5)
        // Features that never vary keep a zero weight.
        #expect(calibration.weights.dropFirst().allSatisfy { abs($0) < 1e-6 })
    }

    @Test func aWeightCountsLikeRepeatedExamples() {
        let weighted: [RecognitionCalibration.Example] = [
            .init(evidence: Self.evidence(0), isRight: true, weight: 3), .init(evidence: Self.evidence(0), isRight: false),
            .init(evidence: Self.evidence(1), isRight: true), .init(evidence: Self.evidence(1), isRight: false, weight: 3),
        ]
        let calibration = RecognitionCalibration.fit(weighted, regularisation: 1e-12)
        #expect(abs(calibration.probability(Self.evidence(0)) - 0.75) < 1e-6)
        #expect(abs(calibration.probability(Self.evidence(1)) - 0.25) < 1e-6)
    }

    @Test func belowTheThresholdTheAnswerIsNoLandmark() {
        let calibration = RecognitionCalibration(weights: [10, 0, 0, 0], bias: -5, threshold: 0.5)
        let prediction = RecognitionPrediction(label: "tower", confidence: 2.4,
                                               scores: [.init(label: "tower", score: 2.4)])
        let sure = calibration.apply(prediction, evidence: Self.evidence(0.9))
        #expect(sure.label == "tower")
        #expect(abs(sure.confidence - 1 / (1 + exp(-4))) < 1e-12)
        let unsure = calibration.apply(prediction, evidence: Self.evidence(0.3))
        #expect(unsure.label == nil)
        #expect(abs(unsure.confidence - 1 / (1 + exp(2))) < 1e-12)
    }

    @Test func evidenceSummarisesTheBestLabelsVoters() {
        let recognition = KNNRecognition(neighbours: 3, inlierWeight: 1, inlierSaturation: 50)
        let neighbours = [
            RecognitionNeighbour(image: "a", label: "bridge", similarity: 0.8, inliers: 25),
            RecognitionNeighbour(image: "b", label: "tower", similarity: 0.7, inliers: nil),
            RecognitionNeighbour(image: "c", label: "bridge", similarity: 0.6, inliers: 100),
            RecognitionNeighbour(image: "d", label: "tower", similarity: 0.5, inliers: 100),
        ]
        let prediction = recognition.predict(neighbours)
        #expect(prediction.label == "bridge")
        let evidence = recognition.evidence(neighbours, prediction: prediction)
        // bridge: 0.8 + 0.5 + 0.6 + 1 = 2.9; tower: 0.7 (the fourth neighbour does not vote).
        #expect(abs(evidence.score - 2.9 / 3) < 1e-6)
        #expect(abs(evidence.margin - (2.9 - 0.7) / 3) < 1e-6)
        #expect(abs(evidence.similarity - 0.8) < 1e-6)
        #expect(evidence.verification == 1)
    }

    /// Three landmarks of three views each, whose views are alike (0.8) and unlike everything else (0.1),
    /// and two distractors unlike everything (0.05): with the settings chosen by cross-validation over
    /// landmarks, every landmark photo gets its landmark and both distractors get "no landmark".
    @Test func crossValidatedCalibrationRejectsDistractorsAndKeepsLandmarks() {
        let labels: [String?] = ["a", "a", "a", "b", "b", "b", "c", "c", "c", nil, nil]
        let count = labels.count
        var storage = [Float](repeating: 0.1, count: count * count)
        for i in 0 ..< count {
            for j in 0 ..< count {
                if i == j { storage[i * count + j] = 1 }
                else if labels[i] == nil || labels[j] == nil { storage[i * count + j] = 0.05 }
                else if labels[i] == labels[j] { storage[i * count + j] = 0.8 - 0.01 * Float(abs(i - j)) }
            }
        }
        let similarities = Matrix(rows: count, columns: count, storage: storage)
        let outcome = CalibratedLeaveOneOut(candidateNeighbours: [1, 2], inlierWeight: 0, unknownShare: 0.2)
            .predict(labels: labels, similarities: similarities)
        let scores = LeaveOneOutRecognition.score(labels: labels, predictions: outcome.predictions)
        #expect(scores.accuracy == 1)
        #expect(scores.distractorsRejected == 1)
        #expect(scores.globalAveragePrecision == 1)
        // A landmark's own views are always found, with K = 1 or 2.
        #expect(outcome.chosenNeighbours.allSatisfy { [1, 2].contains($0) })
    }
}
