import Foundation
import LandmarkGeometry
import LandmarkImage
import LandmarkLocalFeatures

/// Local-feature matching and RANSAC verification of image pairs (METHODS.md §3, §5): the inlier count
/// says how surely two photographs show the same physical scene.
public struct SpatialVerifier: Sendable {
    public var sift: SIFT
    public var ransac: RANSACConfiguration
    /// Lowe's ratio for tentative matches.
    public var ratio: Float
    /// Inliers a pair needs to count as verified.
    public var minimumInliers: Int
    public var decoding: ImageDecodingOptions

    public init(sift: SIFT = SIFT(), ransac: RANSACConfiguration = RANSACConfiguration(), ratio: Float = 0.8,
                minimumInliers: Int = 15, decoding: ImageDecodingOptions = .init()) {
        self.sift = sift
        self.ransac = ransac
        self.ratio = ratio
        self.minimumInliers = minimumInliers
        self.decoding = decoding
    }

    /// The outcome of verifying one pair.
    public struct PairVerification: Sendable {
        public var matches: [FeatureMatch]
        public var result: VerificationResult
        /// Verified with at least `minimumInliers` inliers.
        public var isVerified: Bool
        public var inlierCount: Int { isVerified ? result.inlierCount : 0 }
    }

    /// Decodes an image and extracts its local features (coordinates in the image resized to the SIFT size).
    public func features(of url: URL) -> Result<(image: RGBImage, features: LocalFeatures), SkippedImage> {
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(contentsOf: url, options: decoding)
        } catch {
            return .failure(SkippedImage(image: url.path, reason: "\(error.code): \(error.reason)"))
        }
        let resized = image.resized(longerSide: sift.configuration.imageSize)
        return .success((resized, sift.extract(resized)))
    }

    /// Matches with the ratio test, then fits the configured model with RANSAC.
    public func verify(_ a: LocalFeatures, _ b: LocalFeatures) -> PairVerification {
        let matches = FeatureMatcher.ratioTest(a, b, ratio: ratio)
        let correspondences = matches.map { match in
            PointCorrespondence(
                source: SIMD2(Double(a.keypoints[match.query].x), Double(a.keypoints[match.query].y)),
                target: SIMD2(Double(b.keypoints[match.train].x), Double(b.keypoints[match.train].y)))
        }
        let result = RANSAC.estimate(correspondences, configuration: ransac, minimumInliers: minimumInliers)
        return PairVerification(matches: matches, result: result,
                                isVerified: result.isVerified && result.inlierCount >= minimumInliers)
    }
}
