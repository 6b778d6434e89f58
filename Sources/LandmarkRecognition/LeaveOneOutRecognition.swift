import LandmarkEvaluation
import LandmarkLinearAlgebra

/// Recognition figures of a labelled image set.
public struct RecognitionScores: Sendable, Equatable, Codable {
    /// GAP over all queries (METHODS.md §8); NaN when no query has a landmark.
    public var globalAveragePrecision: Double
    /// Fraction of labelled queries whose predicted label is right; NaN when there are none.
    public var accuracy: Double
    public var labelledQueries: Int
    public var distractorQueries: Int
    /// Fraction of distractor queries answered "no landmark"; NaN when there are none.
    public var distractorsRejected: Double

    public init(globalAveragePrecision: Double, accuracy: Double, labelledQueries: Int, distractorQueries: Int,
                distractorsRejected: Double) {
        self.globalAveragePrecision = globalAveragePrecision
        self.accuracy = accuracy
        self.labelledQueries = labelledQueries
        self.distractorQueries = distractorQueries
        self.distractorsRejected = distractorsRejected
    }
}

/// Recognition evaluated on one labelled collection with no separate train set: each image in turn is a
/// query and every other labelled image is the train set. It needs no pixels — the caller supplies the
/// descriptor similarities (and, optionally, inlier counts) — so it can score any descriptor cheaply.
public struct LeaveOneOutRecognition: Sendable {
    /// Predicts a landmark for every image.
    /// - Parameters:
    ///   - labels: `labels[i]` is the landmark of image i, or nil for a distractor. Distractors are queries
    ///     but never neighbours.
    ///   - similarities: n×n, row-major, descriptor inner products; row i holds image i's similarities.
    ///   - inliers: `(query, neighbour) → inliers` for the inlier term, called only for the K neighbours that
    ///     vote; nil, or a nil result, means no inlier term.
    /// - Returns: one prediction per image, in image order. Neighbours with equal similarity are taken in
    ///   index order.
    public static func predict(labels: [String?], similarities: Matrix, recognition: KNNRecognition,
                               inliers: ((Int, Int) -> Int?)? = nil) -> [RecognitionPrediction] {
        let count = labels.count
        precondition(similarities.rows == count && similarities.columns == count,
                     "similarities must be \(count)×\(count), one row and column per label")
        let labelled = labels.indices.filter { labels[$0] != nil }
        var predictions: [RecognitionPrediction] = []
        predictions.reserveCapacity(count)
        for query in 0..<count {
            let rowStart = query * count
            var candidates = labelled.filter { $0 != query }
            candidates.sort { lhs, rhs in
                let left = similarities.storage[rowStart + lhs], right = similarities.storage[rowStart + rhs]
                return left != right ? left > right : lhs < rhs
            }
            let neighbours = candidates.prefix(recognition.neighbours).map { neighbour in
                RecognitionNeighbour(image: String(neighbour), label: labels[neighbour] ?? "",
                                     similarity: similarities.storage[rowStart + neighbour],
                                     inliers: inliers?(query, neighbour))
            }
            predictions.append(recognition.predict(neighbours))
        }
        return predictions
    }

    /// GAP, accuracy and distractor rejection of `predictions` (one per image, as `predict` returns them).
    ///
    /// GAP follows `RecognitionMetrics.globalAveragePrecision`: predictions sorted by confidence (ties by
    /// image index), M = labelled queries, a distractor's prediction counts as a false positive and a "no
    /// landmark" answer is no prediction at all.
    public static func score(labels: [String?], predictions: [RecognitionPrediction]) -> RecognitionScores {
        precondition(labels.count == predictions.count, "one prediction per label")
        // Fixed-width ids make the metric's code-point tie-break follow image order.
        let width = String(labels.count).count
        func identifier(_ index: Int) -> String {
            let digits = String(index)
            return String(repeating: "0", count: width - digits.count) + digits
        }
        var solution: [String: [String]] = [:]
        var predicted: [String: RecognitionPrediction] = [:]
        for (index, (label, prediction)) in zip(labels, predictions).enumerated() {
            solution[identifier(index)] = label.map { [$0] } ?? []
            predicted[identifier(index)] = prediction
        }
        return RecognitionScores(predictions: predicted, solution: solution)
    }
}

extension RecognitionScores {
    /// Scores predictions against a solution (query id → its correct landmarks; empty for a query that
    /// shows none). GAP as `RecognitionMetrics.globalAveragePrecision` (a "no landmark" answer is no
    /// prediction); accuracy over the landmark queries (the predicted label is one of the correct ones);
    /// rejection over the others. Queries without a prediction are left out; undefined figures are NaN.
    public init(predictions: [String: RecognitionPrediction], solution: [String: [String]]) {
        var ranked: [String: RecognitionMetrics.Prediction] = [:]
        var evaluated: [String: [String]] = [:]
        var labelled = 0, correct = 0, distractors = 0, rejected = 0
        for (id, truth) in solution {
            guard let prediction = predictions[id] else { continue }
            evaluated[id] = truth
            if let label = prediction.label {
                ranked[id] = RecognitionMetrics.Prediction(label: label, confidence: prediction.confidence)
            }
            if truth.isEmpty {
                distractors += 1
                if prediction.label == nil { rejected += 1 }
            } else {
                labelled += 1
                if let label = prediction.label, truth.contains(label) { correct += 1 }
            }
        }
        let gap = labelled > 0 ? RecognitionMetrics.globalAveragePrecision(predictions: ranked, solution: evaluated) : .nan
        self.init(globalAveragePrecision: gap,
                  accuracy: labelled > 0 ? Double(correct) / Double(labelled) : .nan,
                  labelledQueries: labelled, distractorQueries: distractors,
                  distractorsRejected: distractors > 0 ? Double(rejected) / Double(distractors) : .nan)
    }
}
