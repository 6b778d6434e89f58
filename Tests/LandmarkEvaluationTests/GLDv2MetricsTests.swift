import Foundation
import Testing
import LandmarkEvaluation

/// Produced by scripts/fixtures/evaluation_make_fixtures.py from tensorflow/models delf's GLDv2 metrics.py.
private struct GLDv2Fixture: Decodable {
    struct Retrieval: Decodable { var solution: [String: [String]]; var predictions: [String: [String]]; var mapAt100: Double }
    struct Prediction: Decodable { var label: String; var confidence: Double }
    struct Recognition: Decodable { var solution: [String: [String]]; var predictions: [String: Prediction]; var gap: Double }
    var retrieval: [Retrieval]
    var recognition: [Recognition]
}

@Suite struct GLDv2MetricsTests {
    @Test func meanAveragePrecisionAt100MatchesReference() throws {
        let fixture = try Fixtures.decode(GLDv2Fixture.self, from: "evaluation_gldv2_metrics.json")
        #expect(fixture.retrieval.count == 4)
        for item in fixture.retrieval {
            let value = RetrievalMetrics.meanAveragePrecisionAt100(predictions: item.predictions, solution: item.solution)
            #expect(close(value, item.mapAt100), "\(value) vs \(item.mapAt100)")
        }
        // The fixture covers long solutions, long and duplicated predictions, and empty solutions.
        #expect(fixture.retrieval.contains { $0.solution.values.contains { $0.count > 100 } })
        #expect(fixture.retrieval.contains { $0.predictions.values.contains { $0.count > 100 } })
        #expect(fixture.retrieval.contains { $0.solution.values.contains { $0.isEmpty } })
    }

    @Test func globalAveragePrecisionMatchesReference() throws {
        let fixture = try Fixtures.decode(GLDv2Fixture.self, from: "evaluation_gldv2_metrics.json")
        #expect(fixture.recognition.count == 4)
        for item in fixture.recognition {
            let predictions = item.predictions.mapValues {
                RecognitionMetrics.Prediction(label: $0.label, confidence: $0.confidence)
            }
            let value = RecognitionMetrics.globalAveragePrecision(predictions: predictions, solution: item.solution)
            #expect(close(value, item.gap), "\(value) vs \(item.gap)")
        }
    }

    @Test func mapAt100HandCases() {
        // Duplicates keep their position: a b a c with relevant {a, c} → (1/1 + 2/4) / 2.
        let value = RetrievalMetrics.meanAveragePrecisionAt100(predictions: ["q": ["a", "b", "a", "c"]],
                                                               solution: ["q": ["a", "c"], "r": [], "s": ["x"]])
        #expect(abs(value - 0.75 / 2) < 1e-15) // r ignored, s counted with AP 0
        #expect(RetrievalMetrics.meanAveragePrecisionAt100(predictions: [:], solution: ["q": []]).isNaN)
    }

    @Test func gapHandCases() {
        typealias P = RecognitionMetrics.Prediction
        // Sorted: b(0.9, wrong: no landmark), a(0.8, right), c absent → (1/2) / 2 landmark queries.
        let solution = ["a": ["1"], "b": [], "c": ["2"]]
        let gap = RecognitionMetrics.globalAveragePrecision(
            predictions: ["a": P(label: "1", confidence: 0.8), "b": P(label: "5", confidence: 0.9)], solution: solution)
        #expect(abs(gap - 0.25) < 1e-15)
        // Equal confidences are ordered by query id: a (right) before b (wrong) → 1/1 / 2.
        let tied = RecognitionMetrics.globalAveragePrecision(
            predictions: ["b": P(label: "5", confidence: 0.5), "a": P(label: "1", confidence: 0.5)], solution: solution)
        #expect(abs(tied - 0.5) < 1e-15)
    }
}
