import LandmarkLinearAlgebra
import Testing
@testable import LandmarkRecognition

/// Six images: A = {0, 1, 4}, B = {2, 3}, 5 is a distractor. Image 4 looks more like the B images than
/// like its own landmark, and the distractor looks like image 2.
private let labels: [String?] = ["A", "A", "B", "B", "A", nil]
private let similarities = Matrix(rows: 6, columns: 6, storage: [
    1.0, 0.9, 0.2, 0.1, 0.3, 0.4,
    0.9, 1.0, 0.3, 0.2, 0.1, 0.5,
    0.2, 0.3, 1.0, 0.8, 0.6, 0.7,
    0.1, 0.2, 0.8, 1.0, 0.4, 0.2,
    0.3, 0.1, 0.6, 0.4, 1.0, 0.3,
    0.4, 0.5, 0.7, 0.2, 0.3, 1.0,
])

private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-6 }

@Test func leaveOneOutPredictionsByHand() {
    let predictions = LeaveOneOutRecognition.predict(labels: labels, similarities: similarities,
                                                     recognition: KNNRecognition(neighbours: 2, inlierWeight: 0))
    // Query 0: neighbours 1 (.9), 4 (.3) → A 1.2. Query 1: 0 (.9), 2 (.3) → A .9 (B .3).
    // Query 2: 3 (.8), 4 (.6) → B .8. Query 3: 2 (.8), 4 (.4) → B .8. Query 4: 2 (.6), 3 (.4) → B 1.0 (wrong).
    // Query 5: 2 (.7), 1 (.5) → B .7 (a distractor answered). Image 5 is never anyone's neighbour.
    #expect(predictions.map(\.label) == ["A", "A", "B", "B", "B", "B"])
    let expected = [1.2, 0.9, 0.8, 0.8, 1.0, 0.7]
    for (prediction, confidence) in zip(predictions, expected) { #expect(close(prediction.confidence, confidence)) }
    #expect(predictions[1].scores.map(\.label) == ["A", "B"])

    // Ranked by confidence: 0 ✓, 4 ✗, 1 ✓, 2 ✓, 3 ✓, 5 ✗; five labelled queries.
    let scores = LeaveOneOutRecognition.score(labels: labels, predictions: predictions)
    #expect(close(scores.globalAveragePrecision, (1.0 + 2.0 / 3.0 + 3.0 / 4.0 + 4.0 / 5.0) / 5.0))
    #expect(close(scores.accuracy, 0.8))
    #expect(scores.labelledQueries == 5)
    #expect(scores.distractorQueries == 1)
    #expect(scores.distractorsRejected == 0)
}

@Test func rejectedPredictionsAreNotRanked() {
    // Threshold 0.95 keeps only queries 0 (1.2 ✓) and 4 (1.0 ✗): GAP = (1/1) / 5.
    let predictions = LeaveOneOutRecognition.predict(
        labels: labels, similarities: similarities,
        recognition: KNNRecognition(neighbours: 2, inlierWeight: 0, minimumConfidence: 0.95))
    #expect(predictions.map(\.label) == ["A", nil, nil, nil, "B", nil])
    let scores = LeaveOneOutRecognition.score(labels: labels, predictions: predictions)
    #expect(close(scores.globalAveragePrecision, 0.2))
    #expect(close(scores.accuracy, 0.2))
    #expect(scores.distractorsRejected == 1)
}

@Test func inlierTermIsAskedOnlyForVotingNeighbours() {
    var asked: [[Int]] = []
    // Query 4 with K = 3: 2 (.6), 3 (.4), 0 (.3); 70 inliers with image 0 give A .3 + 1 = 1.3 > B 1.0.
    let predictions = LeaveOneOutRecognition.predict(labels: labels, similarities: similarities,
                                                     recognition: KNNRecognition(neighbours: 3)) { query, neighbour in
        asked.append([query, neighbour])
        return query == 4 && neighbour == 0 ? 70 : nil
    }
    #expect(predictions[4].label == "A")
    #expect(close(predictions[4].confidence, 1.3))
    #expect(asked.filter { $0[0] == 4 }.map { $0[1] } == [2, 3, 0])
    #expect(asked.count == 18)
    #expect(!asked.contains { $0[1] == 5 || $0[0] == $0[1] })
    // K = 3 also lets image 2 be outvoted by its A look-alikes (4 .6 + 1 .3 against 3 .8), and the distractor
    // now says A (1 .5 + 0 .4 against 2 .7).
    #expect(predictions.map(\.label) == ["A", "A", "A", "B", "A", "A"])
    let scores = LeaveOneOutRecognition.score(labels: labels, predictions: predictions)
    #expect(close(scores.accuracy, 0.8))
}
