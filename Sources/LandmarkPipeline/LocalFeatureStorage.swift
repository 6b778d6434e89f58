import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkLocalFeatures

/// Conversion between the extractor's `LocalFeatures` and the store's `LocalFeatureRecord`.
///
/// The store keeps plain SIFT descriptors as bytes: our SIFT, like OpenCV's, scales each descriptor to
/// 512/‖d‖ and saturates to integers 0…255, so the bytes are exact; a value that is not an integer (a
/// descriptor from elsewhere) is rounded to nearest, ties to even, and clamped to 0…255. RootSIFT is
/// computed at load, from those integers, so loaded features equal freshly extracted RootSIFT features.
public enum LocalFeatureStorage {
    /// The storage form of plain SIFT features (`SIFTConfiguration.rootSIFT == false`).
    public static func record(identifier: String, sift features: LocalFeatures) -> LocalFeatureRecord {
        let keypoints = features.keypoints.map { StoredKeypoint(x: $0.x, y: $0.y, size: $0.size, angle: $0.angle) }
        let descriptors = features.descriptors.storage.map { value -> UInt8 in
            UInt8(min(max(value.rounded(.toNearestOrEven), 0), 255))
        }
        return LocalFeatureRecord(identifier: identifier, imageWidth: features.imageWidth,
                                  imageHeight: features.imageHeight, keypoints: keypoints, descriptors: descriptors)
    }

    /// The features of a record with RootSIFT descriptors (unit L2 rows), as matching and ASMK use them.
    /// Keypoint response and octave are not stored and come back as 0.
    public static func rootSIFTFeatures(_ record: LocalFeatureRecord, dimension: Int = 128) -> LocalFeatures {
        LocalFeatures(keypoints: record.keypoints.map {
                          Keypoint(x: $0.x, y: $0.y, size: $0.size, angle: $0.angle, response: 0, octave: 0)
                      },
                      descriptors: rootSIFTDescriptors(record.descriptors, dimension: dimension),
                      imageWidth: record.imageWidth, imageHeight: record.imageHeight)
    }

    /// RootSIFT rows from stored SIFT bytes.
    static func rootSIFTDescriptors(_ bytes: [UInt8], dimension: Int) -> Matrix {
        var matrix = Matrix(rows: bytes.count / dimension, columns: dimension, storage: bytes.map { Float($0) })
        RootSIFT.transform(&matrix)
        return matrix
    }
}

/// What `landmark index --local rootsift-asmk` builds besides (or instead of) the global descriptors:
/// SIFT features of every image, a vocabulary trained on a sample of them, and an ASMK inverted file.
public struct LocalIndexConfiguration: Sendable {
    /// The only method so far.
    public static let rootSIFTASMK = "rootsift-asmk"

    /// Detector and descriptor settings; features are stored as plain SIFT whatever `rootSIFT` says.
    public var sift: SIFTConfiguration
    public var vocabularySize: Int
    public var vocabularyIterations: Int
    /// Descriptors sampled evenly over the index to train the vocabulary.
    public var vocabularySamples: Int
    public var asmk: ASMKConfiguration
    /// Train a new vocabulary even when the index directory already has one of the right size. Off by
    /// default: an index that gains or loses images keeps its visual words, so only the inverted file
    /// changes and earlier results stay comparable.
    public var retrainVocabulary = false

    /// The settings of `evaluate --local rootsift-asmk` (``ASMKRetrieval``) unless changed.
    public init(vocabularySize: Int = ASMKRetrieval().vocabularySize) {
        let retrieval = ASMKRetrieval()
        sift = retrieval.sift.configuration
        self.vocabularySize = vocabularySize
        vocabularyIterations = retrieval.vocabularyIterations
        vocabularySamples = retrieval.vocabularySamples
        asmk = retrieval.configuration
    }

    /// The extractor spec stored with the features; shards and stores with another spec are not mixed.
    public var extractorName: String {
        Self.extractorName(sift)
    }

    static func extractorName(_ sift: SIFTConfiguration) -> String {
        "sift features=\(sift.maximumFeatures) size=\(sift.imageSize) layers=\(sift.octaveLayers) "
            + "contrast=\(ASMKRetrieval.format(sift.contrastThreshold)) edge=\(ASMKRetrieval.format(sift.edgeThreshold)) "
            + "sigma=\(ASMKRetrieval.format(sift.sigma)) upsample=\(sift.upsampleInput ? 1 : 0)"
    }
}

/// The local part of an index, recorded in `index.json` (absent from indexes without local features).
public struct LocalIndexManifest: Sendable, Codable, Equatable {
    /// `rootsift-asmk`.
    public var method: String
    /// The SIFT spec (`LocalIndexConfiguration.extractorName`); queries are described the same way.
    public var extractor: String
    public var maximumFeatures: Int
    public var imageSize: Int
    /// Local features over all indexed images.
    public var featureCount: Int
    public var vocabularySize: Int
    /// File names inside the index directory.
    public var featuresFile: String
    public var vocabularyFile: String
    public var asmkFile: String
}
