/// Recognition metrics of the Google Landmarks v2 recognition challenge.
public enum RecognitionMetrics {
    /// One predicted landmark for one query image.
    public struct Prediction: Sendable, Equatable {
        public var label: String
        public var confidence: Double

        public init(label: String, confidence: Double) {
            self.label = label
            self.confidence = confidence
        }
    }

    /// GAP (micro average precision) as the challenge's reference (`GlobalAveragePrecision` in
    /// tensorflow/models delf): predictions of all queries are sorted by confidence, and
    /// GAP = (1/M) Σ_i P(i)·rel(i), where M counts the queries that show a landmark.
    ///
    /// A confident wrong answer on a non-landmark query therefore lowers the precision of every later correct
    /// answer, while declining to predict costs nothing beyond the recall. Ties in confidence are broken by
    /// query id in ascending code-point order, as the reference sorts.
    /// - Parameters:
    ///   - predictions: keyed by query id; a query without a prediction is simply absent. Predictions for ids
    ///     missing from `solution` are ignored (the reference rejects them).
    ///   - solution: query id → correct labels; an empty list means the query shows no landmark.
    /// - Returns: NaN when no query in `solution` shows a landmark.
    public static func globalAveragePrecision(predictions: [String: Prediction],
                                              solution: [String: [String]]) -> Double {
        let landmarkQueries = solution.values.reduce(0) { $0 + ($1.isEmpty ? 0 : 1) }
        var ranked: [(query: String, prediction: Prediction)] = []
        ranked.reserveCapacity(predictions.count)
        for (query, prediction) in predictions where solution[query] != nil {
            ranked.append((query, prediction))
        }
        ranked.sort { lhs, rhs in
            if lhs.prediction.confidence != rhs.prediction.confidence {
                return lhs.prediction.confidence > rhs.prediction.confidence
            }
            return lhs.query.unicodeScalars.lexicographicallyPrecedes(rhs.query.unicodeScalars)
        }
        var gap = 0.0
        var correct = 0
        for (position, entry) in ranked.enumerated() {
            guard let labels = solution[entry.query], labels.contains(entry.prediction.label) else { continue }
            correct += 1
            gap += Double(correct) / Double(position + 1)
        }
        return gap / Double(landmarkQueries)
    }
}
