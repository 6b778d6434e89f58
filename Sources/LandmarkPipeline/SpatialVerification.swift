import Foundation
import LandmarkGeometry
import LandmarkImage
import LandmarkLinearAlgebra
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

extension SpatialVerifier {
    /// Verifies many pairs at once: pairs spread over the cores, each pair's matrix product on one BLAS
    /// thread (multi-threaded OpenBLAS inside parallel workers spins and collapses). A pair whose
    /// features are missing scores 0.
    /// - Parameter raw: the RANSAC inlier count even below `minimumInliers` (for ROC curves); otherwise
    ///   `PairVerification.inlierCount`, 0 unless verified.
    public func inlierCounts(_ pairs: [(first: Int, second: Int)], raw: Bool = false,
                             firstFeatures: @Sendable (Int) -> LocalFeatures?,
                             secondFeatures: @Sendable (Int) -> LocalFeatures?,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> [Int] {
        let counts = ResultSlots<Int>(count: pairs.count, initial: 0)
        let counter = ProgressCounter(total: pairs.count, report: progress)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let previousThreadCount = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(previousThreadCount) }
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            var position = worker
            while position < pairs.count {
                let (first, second) = pairs[position]
                if let a = firstFeatures(first), let b = secondFeatures(second) {
                    let verification = verify(a, b)
                    counts.set(position, raw ? verification.result.inlierCount : verification.inlierCount)
                }
                counter.advance(current: "verifying")
                position += cores
            }
        }
        return counts.values
    }
}

