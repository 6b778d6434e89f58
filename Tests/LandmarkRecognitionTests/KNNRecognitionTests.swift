import Testing
@testable import LandmarkRecognition

/// Two A neighbours that look alike and one B neighbour that RANSAC verifies strongly: plain similarity
/// voting picks A (0.9 + 0.7 against 0.8), the inlier term picks B (0.8 + 70/70 = 1.8 against
/// 0.9 + 0/70 + 0.7 + 7/70 = 1.7).
private let disputed = [
    RecognitionNeighbour(image: "a1", label: "A", similarity: 0.9, inliers: 0),
    RecognitionNeighbour(image: "b1", label: "B", similarity: 0.8, inliers: 70),
    RecognitionNeighbour(image: "a2", label: "A", similarity: 0.7, inliers: 7),
]

private func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-6 }

@Test func inlierTermOutvotesLookAlikes() {
    let prediction = KNNRecognition().predict(disputed)
    #expect(prediction.label == "B")
    #expect(close(prediction.confidence, 1.8))
    #expect(prediction.scores.map(\.label) == ["B", "A"])
    #expect(close(prediction.scores[1].score, 1.7))
}

@Test func zeroInlierWeightIsPlainSimilarityVoting() {
    let prediction = KNNRecognition(inlierWeight: 0).predict(disputed)
    #expect(prediction.label == "A")
    #expect(close(prediction.confidence, 1.6))
    // Same as neighbours that were never verified.
    let unverified = disputed.map { RecognitionNeighbour(image: $0.image, label: $0.label, similarity: $0.similarity) }
    #expect(KNNRecognition().predict(unverified) == prediction)
}

@Test func inlierTermSaturatesAtTau() {
    let recognition = KNNRecognition(neighbours: 1, inlierWeight: 2, inlierSaturation: 10)
    func confidence(_ inliers: Int) -> Double {
        recognition.predict([RecognitionNeighbour(image: "x", label: "L", similarity: 0.5, inliers: inliers)]).confidence
    }
    #expect(close(confidence(5), 0.5 + 2 * 0.5))
    #expect(close(confidence(10), 2.5))
    #expect(close(confidence(1000), 2.5))
    #expect(close(confidence(0), 0.5))
}

@Test func onlyTheFirstKNeighboursVote() {
    let prediction = KNNRecognition(neighbours: 2, inlierWeight: 0).predict(disputed)
    #expect(prediction.scores.map(\.label) == ["A", "B"])
    #expect(close(prediction.confidence, 0.9))
    let one = KNNRecognition(neighbours: 1).predict(disputed)
    #expect(one.scores.map(\.label) == ["A"])
}

@Test func tiesGoToTheSmallerLabelName() {
    let neighbours = [
        RecognitionNeighbour(image: "1", label: "zeta", similarity: 0.5),
        RecognitionNeighbour(image: "2", label: "alpha", similarity: 0.5),
        RecognitionNeighbour(image: "3", label: "mu", similarity: 0.5),
    ]
    let prediction = KNNRecognition().predict(neighbours)
    #expect(prediction.label == "alpha")
    #expect(prediction.scores.map(\.label) == ["alpha", "mu", "zeta"])
}

@Test func noNeighboursMeansNoLandmark() {
    let prediction = KNNRecognition().predict([])
    #expect(prediction.label == nil)
    #expect(prediction.confidence == 0)
    #expect(prediction.scores.isEmpty)
    #expect(KNNRecognition(neighbours: 0).predict(disputed).label == nil)
}

@Test func lowConfidenceIsNoLandmark() {
    let rejecting = KNNRecognition(minimumConfidence: 1.9).predict(disputed)
    #expect(rejecting.label == nil)
    #expect(close(rejecting.confidence, 1.8))
    #expect(rejecting.scores.count == 2)
    #expect(KNNRecognition(minimumConfidence: 1.75).predict(disputed).label == "B")
    // The default threshold never rejects, even a negative best score.
    let negative = [RecognitionNeighbour(image: "n", label: "N", similarity: -0.2)]
    #expect(KNNRecognition().predict(negative).label == "N")
}
