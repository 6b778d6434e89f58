import Foundation
import LandmarkPipeline
import LandmarkRecognition

/// The JSON bodies the service answers with; `openapi.json` describes each under the same name.
public enum ServiceResponses {
    /// One ranked index image. `image` and `score` are exactly what `landmark search --json` prints;
    /// `id` is the image's row, for `/v1/images/{id}` (valid until the index changes).
    public struct Hit: Codable, Sendable, Equatable {
        public var image: String
        public var score: Float
        public var id: Int
    }

    public struct Search: Codable, Sendable, Equatable {
        public var results: [Hit]
    }

    public struct Neighbour: Codable, Sendable, Equatable {
        public var image: String
        public var label: String
        public var similarity: Float
        public var inliers: Int?
    }

    public struct Recognition: Codable, Sendable {
        /// nil: "no landmark" (the calibrated confidence is too low, or nothing voted).
        public var landmark: String?
        public var confidence: Double
        public var scores: [RecognitionPrediction.LabelScore]
        public var neighbours: [Neighbour]
    }

    public struct Verification: Codable, Sendable {
        public var featuresFirst: Int
        public var featuresSecond: Int
        public var matches: Int
        public var inliers: Int
        public var verified: Bool
        public var model: String?
        public var reason: String?
        /// Both images side by side with the inlier matches drawn, as a `data:image/jpeg;base64,…` URL,
        /// when the request asked for it with `picture=true`.
        public var picture: String?
    }

    public struct IndexChange: Codable, Sendable {
        public var image: String
        /// The image's row after the change (nil when it was removed).
        public var id: Int?
        /// Images in the index after the change.
        public var images: Int
    }

    public struct Health: Codable, Sendable {
        public var status: String
        public var images: Int
        public var descriptor: String
        public var dimension: Int
        public var recognition: Bool
        public var updates: Bool
    }
}
