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
    /// Which models are geometric nonsense even with many inliers.
    public var plausibility: ModelPlausibility
    /// Cores that verify a batch of pairs (all when nil); 1 for a Spark task given one core.
    public var threads: Int?

    public init(sift: SIFT = SIFT(), ransac: RANSACConfiguration = RANSACConfiguration(), ratio: Float = 0.8,
                minimumInliers: Int = VerificationThresholds.verified, decoding: ImageDecodingOptions = .init(),
                plausibility: ModelPlausibility = ModelPlausibility()) {
        self.sift = sift
        self.ransac = ransac
        self.ratio = ratio
        self.minimumInliers = minimumInliers
        self.decoding = decoding
        self.plausibility = plausibility
    }

    /// The outcome of verifying one pair.
    public struct PairVerification: Sendable {
        /// One-to-one tentative matches (ratio test, then one match per target keypoint).
        public var matches: [FeatureMatch]
        public var result: VerificationResult
        /// Inliers counted as distinct points: the smaller of the distinct source and distinct target
        /// positions (within ``ModelPlausibility/distinctPointRadius``).
        public var distinctInlierCount: Int
        /// Why the final model is implausible, or nil.
        public var implausibility: String?
        /// How much of the images the inliers cover: for each image, the area of the box between the 10th
        /// and 90th percentiles of the inliers' x and y, as a fraction of the image; the smaller of the two.
        /// True matches spread over the landmark; chance matches on repeated texture bunch up.
        public var inlierSpread: Double
        /// Verified with at least `minimumInliers` distinct inliers by a plausible model.
        public var isVerified: Bool
        public var inlierCount: Int { isVerified ? distinctInlierCount : 0 }
        /// Why the pair is not verified (an implausible model, RANSAC's reason, or too few distinct
        /// inliers for `minimumInliers`); nil when it is. What `landmark verify` and the service report.
        public func rejection(minimumInliers: Int) -> String? {
            guard !isVerified else { return nil }
            return implausibility ?? result.reason ?? "\(distinctInlierCount) distinct inliers, fewer than \(minimumInliers)"
        }
        /// The score for ranking pairs (ROC curves, graphs): distinct inliers of a plausible model, even
        /// below the verification threshold; 0 for an implausible one.
        public var score: Int { implausibility == nil ? distinctInlierCount : 0 }
    }

    /// Decodes an image and extracts its local features (coordinates in the image resized to the SIFT size).
    public func features(of url: URL) -> Result<(image: RGBImage, features: LocalFeatures), SkippedImage> {
        let image: RGBImage
        do {
            image = try ImageDecoder.decode(contentsOf: url, options: decoding.shrinking(to: sift.configuration.imageSize))
        } catch {
            return .failure(SkippedImage(image: url.path, reason: error.reason))
        }
        let resized = image.resized(longerSide: sift.configuration.imageSize)
        return .success((resized, sift.extract(resized)))
    }

    /// Matches with the ratio test, then fits the configured model with RANSAC.
    public func verify(_ a: LocalFeatures, _ b: LocalFeatures) -> PairVerification {
        let matches = FeatureMatcher.uniqueTargets(FeatureMatcher.ratioTest(a, b, ratio: ratio))
        let correspondences = matches.map { match in
            PointCorrespondence(
                source: SIMD2(Double(a.keypoints[match.query].x), Double(a.keypoints[match.query].y)),
                target: SIMD2(Double(b.keypoints[match.train].x), Double(b.keypoints[match.train].y)))
        }
        let result = RANSAC.estimate(correspondences, configuration: ransac, minimumInliers: minimumInliers)
        let inliers = result.inliers.map { correspondences[$0] }
        let distinct = plausibility.distinctCount(inliers)
        let implausibility = result.model.flatMap { plausibility.implausibility(of: $0, inliers: inliers) }
        let spread = min(Self.spread(inliers.map(\.source), width: a.imageWidth, height: a.imageHeight),
                         Self.spread(inliers.map(\.target), width: b.imageWidth, height: b.imageHeight))
        return PairVerification(matches: matches, result: result, distinctInlierCount: distinct, implausibility: implausibility,
                                inlierSpread: spread, isVerified: result.isVerified && implausibility == nil && distinct >= minimumInliers)
    }
}

extension SpatialVerifier {
    /// Fraction of a width × height image covered by the box between the 10th and 90th percentiles of the
    /// points' coordinates (robust to a stray inlier); 0 for fewer than 3 points or an empty image.
    static func spread(_ points: [SIMD2<Double>], width: Int, height: Int) -> Double {
        guard points.count >= 3, width > 0, height > 0 else { return 0 }
        func range(_ values: [Double]) -> Double {
            let sorted = values.sorted()
            let low = sorted[Int((Double(sorted.count - 1) * 0.1).rounded())]
            let high = sorted[Int((Double(sorted.count - 1) * 0.9).rounded())]
            return high - low
        }
        return min(1, range(points.map(\.x)) * range(points.map(\.y)) / (Double(width) * Double(height)))
    }

    /// What verification measured about one pair, for scores and ROC curves.
    public struct PairMeasurement: Sendable, Equatable {
        /// `PairVerification.score`: distinct inliers of a plausible model, even below the threshold.
        public var inliers: Int
        /// Tentative matches RANSAC started from.
        public var matches: Int
        /// `PairVerification.inlierSpread` (0 for an implausible model).
        public var spread: Double
        /// Verified by the verifier's own threshold.
        public var isVerified: Bool

        public static let missing = PairMeasurement(inliers: 0, matches: 0, spread: 0, isVerified: false)
    }

    /// Verifies many pairs at once: pairs spread over the cores, each pair's matrix product on one BLAS
    /// thread (multi-threaded OpenBLAS inside parallel workers spins and collapses). A pair whose
    /// features are missing measures as `PairMeasurement.missing`.
    public func measurements(_ pairs: [(first: Int, second: Int)],
                             firstFeatures: @Sendable (Int) -> LocalFeatures?,
                             secondFeatures: @Sendable (Int) -> LocalFeatures?,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> [PairMeasurement] {
        let results = ResultSlots<PairMeasurement>(count: pairs.count, initial: .missing)
        let counter = ProgressCounter(total: pairs.count, report: progress)
        let cores = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        DispatchQueue.concurrentPerform(iterations: cores) { worker in
            var position = worker
            while position < pairs.count {
                let (first, second) = pairs[position]
                if let a = firstFeatures(first), let b = secondFeatures(second) {
                    let verification = verify(a, b)
                    results.set(position, PairMeasurement(
                        inliers: verification.score, matches: verification.matches.count,
                        spread: verification.implausibility == nil ? verification.inlierSpread : 0,
                        isVerified: verification.isVerified))
                }
                counter.advance(current: "verifying")
                position += cores
            }
        }
        return results.values
    }

    /// Inlier counts of many pairs (see `measurements`).
    /// - Parameter raw: `PairVerification.score`, the distinct inliers of a plausible model even below
    ///   `minimumInliers` (for ROC curves); otherwise `PairVerification.inlierCount`, 0 unless verified.
    public func inlierCounts(_ pairs: [(first: Int, second: Int)], raw: Bool = false,
                             firstFeatures: @Sendable (Int) -> LocalFeatures?,
                             secondFeatures: @Sendable (Int) -> LocalFeatures?,
                             progress: (@Sendable (PipelineProgress) -> Void)? = nil) -> [Int] {
        measurements(pairs, firstFeatures: firstFeatures, secondFeatures: secondFeatures, progress: progress).map {
            raw || $0.isVerified ? $0.inliers : 0
        }
    }
}


/// The checks a verified model must pass besides its inlier count (issue "verification a graph can be
/// built on"): RANSAC happily fits a homography that folds the image over or squeezes it onto a line when
/// repeated texture gives it enough tentative matches, and such models made most of the strongest false
/// matches between different landmarks.
public struct ModelPlausibility: Sendable, Equatable {
    /// Smallest ratio of the singular values of the model's local linear part (at the inliers' centroid):
    /// below it the model squeezes the image onto a line.
    public var minimumSingularValueRatio: Double
    /// Largest scale change (√|det|, either way) between the two images.
    public var maximumScaleChange: Double
    /// Points closer than this (pixels) count once when inliers are counted.
    public var distinctPointRadius: Double
    /// Reject models that mirror the image (negative determinant): photographs are never mirrored.
    public var rejectsReflections: Bool

    public init(minimumSingularValueRatio: Double = 0.1, maximumScaleChange: Double = 8, distinctPointRadius: Double = 2,
                rejectsReflections: Bool = true) {
        self.minimumSingularValueRatio = minimumSingularValueRatio
        self.maximumScaleChange = maximumScaleChange
        self.distinctPointRadius = distinctPointRadius
        self.rejectsReflections = rejectsReflections
    }

    /// Why `model` is not a plausible view change for these inliers, or nil.
    public func implausibility(of model: GeometricModel, inliers: [PointCorrespondence]) -> String? {
        guard !inliers.isEmpty else { return nil }
        var centroid = SIMD2<Double>(0, 0)
        for inlier in inliers { centroid += inlier.source }
        centroid /= Double(inliers.count)
        // The local linear part by central differences, exact for affine models.
        let step = 1.0
        guard let right = model.transform(centroid + SIMD2(step, 0)), let left = model.transform(centroid - SIMD2(step, 0)),
              let down = model.transform(centroid + SIMD2(0, step)), let up = model.transform(centroid - SIMD2(0, step)) else {
            return "the model sends the inliers' centre to infinity"
        }
        let a = (right.x - left.x) / (2 * step), b = (down.x - up.x) / (2 * step)
        let c = (right.y - left.y) / (2 * step), d = (down.y - up.y) / (2 * step)
        let determinant = a * d - b * c
        if rejectsReflections, determinant <= 0 { return "the model mirrors the image (determinant \(determinant))" }
        // Singular values of [[a, b], [c, d]].
        let sum = a * a + b * b + c * c + d * d
        let root = max(sum * sum - 4 * determinant * determinant, 0).squareRoot()
        let largest = ((sum + root) / 2).squareRoot(), smallest = (max(sum - root, 0) / 2).squareRoot()
        guard largest > 0 else { return "the model collapses the image to a point" }
        if smallest / largest < minimumSingularValueRatio {
            return "the model squeezes the image (singular value ratio \(smallest / largest))"
        }
        let scale = abs(determinant).squareRoot()
        if scale > maximumScaleChange || scale < 1 / maximumScaleChange {
            return "the model changes scale by \(scale)"
        }
        return nil
    }

    /// Inliers as distinct points: the smaller of the numbers of distinct source and target positions.
    public func distinctCount(_ inliers: [PointCorrespondence]) -> Int {
        min(Self.distinct(inliers.map(\.source), radius: distinctPointRadius),
            Self.distinct(inliers.map(\.target), radius: distinctPointRadius))
    }

    /// Greedy count of points at least `radius` apart (grid buckets keep it linear).
    static func distinct(_ points: [SIMD2<Double>], radius: Double) -> Int {
        guard radius > 0 else { return points.count }
        var kept: [SIMD2<Double>] = []
        var buckets: [SIMD2<Int>: [Int]] = [:]
        let squared = radius * radius
        for point in points {
            let cell = SIMD2(Int((point.x / radius).rounded(.down)), Int((point.y / radius).rounded(.down)))
            var duplicate = false
            search: for dx in -1...1 {
                for dy in -1...1 {
                    for index in buckets[cell &+ SIMD2(dx, dy)] ?? [] {
                        let difference = kept[index] - point
                        if (difference * difference).sum() < squared { duplicate = true; break search }
                    }
                }
            }
            guard !duplicate else { continue }
            buckets[cell, default: []].append(kept.count)
            kept.append(point)
        }
        return kept.count
    }
}
