import LandmarkGeometry
import Foundation
import LandmarkLocalFeatures
import LandmarkRecognition

/// The answer for one query photograph: the prediction and the neighbours that voted.
public struct RecognitionAnswer: Sendable, Codable {
    public var prediction: RecognitionPrediction
    public var neighbours: [Neighbour]

    public struct Neighbour: Sendable, Codable {
        public var image: String
        public var label: String
        public var similarity: Float
        public var inliers: Int?
    }
}

/// Recognises landmarks in photographs by kNN voting against a labelled train index (METHODS.md §4),
/// with the inlier term when `verifier` is set: the K neighbours are verified against the query with
/// local features, so a neighbour showing the same physical scene outweighs a look-alike.
public struct IndexRecognition: Sendable {
    public let index: RetrievalIndex
    public let labels: LandmarkLabels
    public var recognition: KNNRecognition
    public var verifier: SpatialVerifier?

    public init(index: RetrievalIndex, labels: LandmarkLabels, recognition: KNNRecognition = KNNRecognition(),
                verifier: SpatialVerifier? = SpatialVerifier(ransac: RetrievalPipeline.rerankingRANSAC, minimumInliers: VerificationThresholds.recognitionCounting)) {
        self.index = index
        self.labels = labels
        self.recognition = recognition
        self.verifier = verifier
    }

    /// Index images that carry a label; an index without any cannot recognise anything.
    public var labelledImageCount: Int { index.store.identifiers.filter { labels.label(of: $0) != nil }.count }

    public func recognize(_ images: [URL]) -> [Result<RecognitionAnswer, SkippedImage>] {
        let everything = index.store.count
        var rowOfIdentifier: [String: Int] = [:]
        if index.localFeatureStore != nil {
            for (row, identifier) in index.store.identifiers.enumerated() { rowOfIdentifier[identifier] = row }
        }
        let searched = index.search(images: images, top: everything)
        return zip(images, searched).map { url, outcome in
            outcome.flatMap { hits -> Result<RecognitionAnswer, SkippedImage> in
                let labelled = hits.lazy.compactMap { hit -> RecognitionNeighbour? in
                    guard let label = labels.label(of: hit.image) else { return nil }
                    return RecognitionNeighbour(image: hit.image, label: label, similarity: hit.score)
                }
                var neighbours = Array(labelled.prefix(recognition.neighbours))
                if let verifier, recognition.inlierWeight > 0 {
                    switch verifier.features(of: url) {
                    case .failure(let failure): return .failure(failure)
                    case .success(let query):
                        for position in neighbours.indices {
                            // The index's stored features when it has them; else the train photograph.
                            let stored = rowOfIdentifier[neighbours[position].image].flatMap { index.localFeatures(ofImage: $0) }
                            guard let train = stored ?? (try? verifier.features(of: index.imageURL(neighbours[position].image)).get().features)
                            else { continue }
                            neighbours[position].inliers = verifier.verify(query.features, train).inlierCount
                        }
                    }
                }
                let prediction = recognition.predict(neighbours)
                return .success(RecognitionAnswer(prediction: prediction, neighbours: neighbours.map {
                    RecognitionAnswer.Neighbour(image: $0.image, label: $0.label, similarity: $0.similarity, inliers: $0.inliers)
                }))
            }
        }
    }
}

extension RetrievalIndex {
    /// Where an indexed image is on disk (identifiers are relative to the indexed folder).
    public func imageURL(_ identifier: String) -> URL {
        URL(fileURLWithPath: manifest.imageRoot).appendingPathComponent(identifier)
    }
}
