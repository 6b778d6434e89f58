import LandmarkGeometry

/// One neighbour of a query in the train set.
public struct RecognitionNeighbour: Sendable, Equatable {
    public var image: String
    public var label: String
    /// Descriptor similarity to the query (inner product of L2-normalised descriptors).
    public var similarity: Float
    /// RANSAC inliers between the query and this neighbour; nil when the pair was not verified.
    public var inliers: Int?

    public init(image: String, label: String, similarity: Float, inliers: Int? = nil) {
        self.image = image
        self.label = label
        self.similarity = similarity
        self.inliers = inliers
    }
}

/// The landmark predicted for one query.
public struct RecognitionPrediction: Sendable, Equatable, Codable {
    /// The predicted landmark; nil means "no landmark".
    public var label: String?
    /// s_ŷ, the raw summed score of the best label (kept even when the label is rejected, so that thresholds
    /// can be tuned afterwards); 0 when there are no neighbours.
    public var confidence: Double
    /// Every candidate label, best first; ties broken by label name ascending.
    public var scores: [LabelScore]

    public struct LabelScore: Sendable, Equatable, Codable {
        public var label: String
        public var score: Double

        public init(label: String, score: Double) {
            self.label = label
            self.score = score
        }
    }

    public init(label: String?, confidence: Double, scores: [LabelScore]) {
        self.label = label
        self.confidence = confidence
        self.scores = scores
    }
}

/// kNN voting with an inlier term (METHODS.md §4): s_l = Σ_{i∈N_K, y_i=l} (sim + λ·min(inliers, τ)/τ),
/// ŷ = argmax_l s_l with confidence s_ŷ.
///
/// The inlier term lets a geometrically verified neighbour outvote several look-alikes that merely share a
/// global appearance; saturating it at τ keeps one heavily textured match from dominating.
public struct KNNRecognition: Sendable, Equatable {
    /// K, the neighbours that vote.
    public var neighbours: Int
    /// λ; 0 gives plain similarity voting.
    public var inlierWeight: Double
    /// τ, the inlier count at which the inlier term reaches its full weight λ.
    public var inlierSaturation: Int
    /// A prediction whose confidence is below this is answered "no landmark" (label nil); 0 or less never
    /// rejects.
    public var minimumConfidence: Double

    public init(neighbours: Int = 3, inlierWeight: Double = 1, inlierSaturation: Int = VerificationThresholds.recognitionSaturation, minimumConfidence: Double = 0) {
        precondition(neighbours >= 0, "the number of voting neighbours cannot be negative")
        precondition(inlierSaturation > 0, "the inlier saturation τ must be positive")
        self.neighbours = neighbours
        self.inlierWeight = inlierWeight
        self.inlierSaturation = inlierSaturation
        self.minimumConfidence = minimumConfidence
    }

    /// The vote of one neighbour: its similarity plus, when it was verified, the saturated inlier term.
    public func vote(_ neighbour: RecognitionNeighbour) -> Double {
        var vote = Double(neighbour.similarity)
        if let inliers = neighbour.inliers, inlierWeight != 0 {
            vote += inlierWeight * Double(min(max(inliers, 0), inlierSaturation)) / Double(inlierSaturation)
        }
        return vote
    }

    /// Votes with the first K of `neighbours`, which must already be sorted by similarity, best first.
    ///
    /// A neighbour with `inliers == nil` contributes no inlier term.
    public func predict(_ neighbours: [RecognitionNeighbour]) -> RecognitionPrediction {
        var scoreOfLabel: [String: Double] = [:]
        for neighbour in neighbours.prefix(self.neighbours) {
            scoreOfLabel[neighbour.label, default: 0] += vote(neighbour)
        }
        let scores = scoreOfLabel.map { RecognitionPrediction.LabelScore(label: $0.key, score: $0.value) }
            .sorted { lhs, rhs in
                lhs.score != rhs.score ? lhs.score > rhs.score
                    : lhs.label.unicodeScalars.lexicographicallyPrecedes(rhs.label.unicodeScalars)
            }
        guard let best = scores.first else { return RecognitionPrediction(label: nil, confidence: 0, scores: []) }
        let rejected = minimumConfidence > 0 && best.score < minimumConfidence
        return RecognitionPrediction(label: rejected ? nil : best.label, confidence: best.score, scores: scores)
    }
}
