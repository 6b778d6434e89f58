import LandmarkLinearAlgebra
import Foundation

/// Settings of a RANSAC run.
public struct RANSACConfiguration: Sendable {
    /// The transformation family to fit.
    public var kind: GeometricModelKind
    /// Maximum forward transfer error ‖H·source − target‖, in target pixels, for a correspondence
    /// to count as an inlier. The default of 4 px suits keypoints detected on images resized to a
    /// 1024 px longer side: SIFT localises to about 1 px, and wide-baseline landmark photos are
    /// only approximately planar, so the tight 1–2 px used for calibrated views rejects true matches;
    /// OpenCV's `findHomography` default is 3 px at the images' own resolution.
    public var inlierThreshold: Double
    /// Probability that at least one all-inlier sample is drawn, for adaptive stopping.
    public var confidence: Double
    /// Hard cap on hypotheses (degenerate samples included), whatever the adaptive estimate says.
    public var maximumIterations: Int
    /// Hypotheses drawn even when the adaptive estimate is already met.
    public var minimumIterations: Int
    /// LO-RANSAC: refit each new best model by iterated least squares on its inliers.
    public var localOptimization: Bool
    /// Seed of the sampler, so that identical inputs give identical results.
    public var seed: UInt64

    public init(kind: GeometricModelKind = .homography, inlierThreshold: Double = 4, confidence: Double = 0.999,
                maximumIterations: Int = 10_000, minimumIterations: Int = 0, localOptimization: Bool = true,
                seed: UInt64 = 0) {
        self.kind = kind
        self.inlierThreshold = inlierThreshold
        self.confidence = confidence
        self.maximumIterations = maximumIterations
        self.minimumIterations = minimumIterations
        self.localOptimization = localOptimization
        self.seed = seed
    }
}

/// The outcome of geometric verification of one image pair.
public struct VerificationResult: Sendable, Equatable, Codable {
    /// True when a model with at least the required number of inliers was found.
    public var isVerified: Bool
    public var inlierCount: Int
    /// The best model (refit on all its inliers), when any non-degenerate hypothesis was found.
    public var model: GeometricModel?
    /// Indices into the correspondences given to `RANSAC.estimate`, ascending.
    public var inliers: [Int]
    /// Hypotheses drawn (including degenerate samples that were skipped).
    public var iterations: Int
    /// Why the pair is not verified (too few correspondences, degenerate configuration, no model with
    /// enough inliers); nil when verified.
    public var reason: String?
    /// Correspondences dropped before sampling because a coordinate was NaN or infinite.
    public var nonFiniteCount: Int

    public init(isVerified: Bool, inlierCount: Int, model: GeometricModel?, inliers: [Int], iterations: Int,
                reason: String?, nonFiniteCount: Int = 0) {
        self.isVerified = isVerified
        self.inlierCount = inlierCount
        self.model = model
        self.inliers = inliers
        self.iterations = iterations
        self.reason = reason
        self.nonFiniteCount = nonFiniteCount
    }
}

extension SplitMix64 {
    /// Uniform in 0..<bound (bound > 0), by Lemire's multiply-shift; the bias is < bound / 2⁶⁴.
    @inline(__always)
    mutating func below(_ bound: Int) -> Int {
        Int(UInt64(bound).multipliedFullWidth(by: next()).high)
    }
}

/// Robust model fitting by LO-RANSAC.
///
/// - Hypotheses come from the minimal solvers on random samples of `kind.minimalSampleSize`
///   distinct correspondences; samples with coincident or collinear points (and, for homographies,
///   inconsistent orientation, which no physical view produces) are skipped before solving.
/// - The score is the inlier count under the forward transfer error (as OpenCV's `findHomography`
///   and `estimateAffine2D` use), ties broken by the truncated squared error (MSAC).
/// - Each new best model is locally optimised: iterated least squares on its inliers with the
///   threshold shrinking from 2× to 1× the inlier threshold (LO-RANSAC), kept if it scores better.
/// - Adaptive stopping after N = log(1 − confidence) / log(1 − wˢ) hypotheses, w the best inlier ratio.
/// - The final model is refit on all its inliers until the inlier set stops growing; a homography is
///   then polished by Levenberg–Marquardt on the forward transfer error (as OpenCV does).
public enum RANSAC {
    /// Fits `configuration.kind` to the correspondences.
    ///
    /// - Parameter minimumInliers: inliers required for `isVerified`; values below the default are
    ///   raised to it: 6 for similarity, 8 for affine, 10 for homography (minimal sample + a margin that
    ///   random matches practically never reach, so that no-inlier pairs are not "verified").
    /// - Complexity: O(iterations · n) transfer errors, plus a few least-squares fits.
    public static func estimate(_ correspondences: [PointCorrespondence],
                                configuration: RANSACConfiguration = .init(),
                                minimumInliers: Int = 0) -> VerificationResult {
        let kind = configuration.kind
        let sampleSize = kind.minimalSampleSize
        let required = max(minimumInliers, defaultMinimumInliers(kind))
        var originalIndex: [Int] = []
        originalIndex.reserveCapacity(correspondences.count)
        for (index, correspondence) in correspondences.enumerated() where correspondence.isFinite {
            originalIndex.append(index)
        }
        let nonFinite = correspondences.count - originalIndex.count
        func failure(_ reason: String, iterations: Int = 0) -> VerificationResult {
            VerificationResult(isVerified: false, inlierCount: 0, model: nil, inliers: [], iterations: iterations,
                               reason: reason, nonFiniteCount: nonFinite)
        }
        let threshold = configuration.inlierThreshold
        guard threshold.isFinite, threshold > 0 else {
            return failure("invalid configuration: inlier threshold \(threshold) must be a positive number of pixels")
        }
        let n = originalIndex.count
        guard n >= max(sampleSize, 1) else {
            let dropped = nonFinite > 0 ? " (\(nonFinite) with NaN or infinite coordinates dropped)" : ""
            return failure("too few correspondences: \(n) usable\(dropped), a \(kind.rawValue) needs at least \(sampleSize)")
        }
        let sources = originalIndex.map { correspondences[$0].source }
        let targets = originalIndex.map { correspondences[$0].target }
        if let degeneracy = degeneracy(kind, sources: sources, targets: targets) {
            return failure("degenerate: \(degeneracy)")
        }

        let estimator = Estimator(kind: kind, sources: sources, targets: targets, threshold: threshold)
        var generator = SplitMix64(seed: configuration.seed)
        let maximumIterations = max(1, configuration.maximumIterations)
        let minimumIterations = min(max(0, configuration.minimumIterations), maximumIterations)
        let confidence = min(max(configuration.confidence, 0), 1 - 1e-12)
        var best: Hypothesis?
        var adaptiveLimit = maximumIterations
        var iterations = 0
        var sample = [Int](repeating: 0, count: sampleSize)
        while iterations < max(minimumIterations, min(adaptiveLimit, maximumIterations)) {
            iterations += 1
            drawSample(&sample, from: n, using: &generator)
            guard estimator.sampleIsUsable(sample),
                  let model = MinimalSolvers.fitMinimal(kind, sources: sources, targets: targets, indices: sample)
            else { continue }
            var hypothesis = estimator.score(model)
            guard hypothesis.isBetter(than: best) else { continue }
            if configuration.localOptimization, let optimised = estimator.locallyOptimise(hypothesis),
               optimised.isBetter(than: hypothesis) {
                hypothesis = optimised
            }
            best = hypothesis
            adaptiveLimit = requiredIterations(inliers: hypothesis.inlierCount, total: n, sampleSize: sampleSize,
                                               confidence: confidence)
        }

        guard var final = best else {
            return failure("degenerate: no non-degenerate sample in \(iterations) hypotheses", iterations: iterations)
        }
        // Final refit on all inliers, repeated while it gains inliers (usually once or twice).
        for _ in 0 ..< 5 {
            guard final.inlierCount >= sampleSize,
                  let refit = MinimalSolvers.fit(kind, sources: sources, targets: targets,
                                                 indices: estimator.inliers(of: final.model, threshold: threshold)),
                  case let candidate = estimator.score(refit),
                  candidate.inlierCount >= final.inlierCount,
                  candidate.inlierCount > final.inlierCount || candidate.truncatedError < final.truncatedError
            else { break }
            let grew = candidate.inlierCount > final.inlierCount
            final = candidate
            if !grew { break }
        }
        // Homographies: polish on the geometric error the score uses (the DLT minimised an algebraic one).
        if kind == .homography,
           let refined = MinimalSolvers.refineHomography(
               final.model, sources: sources, targets: targets,
               indices: estimator.inliers(of: final.model, threshold: threshold)),
           case let candidate = estimator.score(refined), candidate.inlierCount >= final.inlierCount {
            final = candidate
        }
        let inliers = estimator.inliers(of: final.model, threshold: threshold).map { originalIndex[$0] }
        let verified = inliers.count >= required
        return VerificationResult(
            isVerified: verified, inlierCount: inliers.count, model: final.model, inliers: inliers,
            iterations: iterations,
            reason: verified ? nil
                : "no model with enough inliers: best \(kind.rawValue) has \(inliers.count) of \(n), \(required) required",
            nonFiniteCount: nonFinite)
    }

    /// Inliers required by default for `isVerified` (see `estimate`).
    public static func defaultMinimumInliers(_ kind: GeometricModelKind) -> Int {
        switch kind {
        case .similarity: 6
        case .affine: 8
        case .homography: 10
        }
    }

    /// N = log(1 − confidence) / log(1 − wˢ), the number of samples after which an all-inlier sample
    /// has been drawn with the given confidence.
    public static func requiredIterations(inliers: Int, total: Int, sampleSize: Int, confidence: Double) -> Int {
        guard total > 0, inliers > 0 else { return Int.max }
        let allInlier = pow(Double(inliers) / Double(total), Double(sampleSize))
        if allInlier >= 1 { return 0 }
        let denominator = log1p(-allInlier)
        guard denominator < 0 else { return Int.max }
        let count = log1p(-confidence) / denominator
        guard count.isFinite, count < Double(Int.max / 2) else { return Int.max }
        return Int(count.rounded(.up))
    }

    /// A whole-set degeneracy that no sample can escape, or nil.
    static func degeneracy(_ kind: GeometricModelKind, sources: [SIMD2<Double>], targets: [SIMD2<Double>]) -> String? {
        for (name, points) in [("source", sources), ("target", targets)] {
            let (spread, smallest) = spreadAndThinness(points)
            if spread <= 1e-18 { return "all \(name) points coincide" }
            if kind != .similarity, smallest <= 1e-12 * spread { return "all \(name) points are collinear" }
        }
        return nil
    }

    /// Largest and smallest eigenvalue of the 2×2 covariance of the points.
    static func spreadAndThinness(_ points: [SIMD2<Double>]) -> (Double, Double) {
        let all = Array(points.indices)
        let c = MinimalSolvers.centroid(points, all)
        var xx = 0.0, xy = 0.0, yy = 0.0
        for p in points {
            let d = p - c
            xx += d.x * d.x; xy += d.x * d.y; yy += d.y * d.y
        }
        let half = (xx + yy) / 2, root = (((xx - yy) / 2) * ((xx - yy) / 2) + xy * xy).squareRoot()
        return (half + root, max(0, half - root))
    }

    /// Draws `sample.count` distinct indices in 0..<n (rejection; samples are tiny).
    static func drawSample(_ sample: inout [Int], from n: Int, using generator: inout SplitMix64) {
        for position in sample.indices {
            var candidate: Int
            repeat {
                candidate = generator.below(n)
            } while sample[..<position].contains(candidate)
            sample[position] = candidate
        }
    }
}

/// A scored model.
struct Hypothesis {
    var model: GeometricModel
    var inlierCount: Int
    /// Σ min(e², t²) over all correspondences (MSAC), the tie-breaker.
    var truncatedError: Double

    func isBetter(than other: Hypothesis?) -> Bool {
        guard let other else { return true }
        return inlierCount > other.inlierCount
            || (inlierCount == other.inlierCount && truncatedError < other.truncatedError)
    }
}

/// The per-run state of RANSAC: the points and the scoring and refitting steps.
struct Estimator {
    let kind: GeometricModelKind
    let sources: [SIMD2<Double>]
    let targets: [SIMD2<Double>]
    let threshold: Double

    /// Squared forward transfer errors (∞ where a homography maps to infinity), into `errors`.
    func squaredErrors(_ model: GeometricModel, into errors: inout [Double]) {
        let m = model.matrix
        let (m0, m1, m2, m3, m4, m5, m6, m7, m8) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        errors.withUnsafeMutableBufferPointer { errors in
            sources.withUnsafeBufferPointer { sources in
                targets.withUnsafeBufferPointer { targets in
                    for i in 0 ..< sources.count {
                        let p = sources[i]
                        let w = m6 * p.x + m7 * p.y + m8
                        let x = (m0 * p.x + m1 * p.y + m2) / w - targets[i].x
                        let y = (m3 * p.x + m4 * p.y + m5) / w - targets[i].y
                        let e = x * x + y * y
                        errors[i] = (abs(w) > 1e-12 && e.isFinite) ? e : .infinity
                    }
                }
            }
        }
    }

    /// Inlier count and truncated error in one pass, without allocating: this runs once per hypothesis.
    func score(_ model: GeometricModel) -> Hypothesis {
        let m = model.matrix
        let (m0, m1, m2, m3, m4, m5, m6, m7, m8) = (m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7], m[8])
        let limit = threshold * threshold
        var count = 0, truncated = 0.0
        sources.withUnsafeBufferPointer { sources in
            targets.withUnsafeBufferPointer { targets in
                if m6 == 0 && m7 == 0 && m8 == 1 {
                    // Affine and similarity models: no division, the loop vectorises.
                    for i in 0 ..< sources.count {
                        let p = sources[i]
                        let x = m0 * p.x + m1 * p.y + m2 - targets[i].x
                        let y = m3 * p.x + m4 * p.y + m5 - targets[i].y
                        let e = x * x + y * y
                        let inlier = e < limit
                        count += inlier ? 1 : 0
                        truncated += inlier ? e : limit
                    }
                    return
                }
                for i in 0 ..< sources.count {
                    let p = sources[i]
                    let w = m6 * p.x + m7 * p.y + m8
                    let inverse = 1 / w
                    let x = (m0 * p.x + m1 * p.y + m2) * inverse - targets[i].x
                    let y = (m3 * p.x + m4 * p.y + m5) * inverse - targets[i].y
                    let e = x * x + y * y
                    // `e < limit` is false for NaN, so points sent to infinity count as outliers.
                    let inlier = abs(w) > 1e-12 && e < limit
                    count += inlier ? 1 : 0
                    truncated += inlier ? e : limit
                }
            }
        }
        return Hypothesis(model: model, inlierCount: count, truncatedError: truncated)
    }

    func inliers(of model: GeometricModel, threshold: Double) -> [Int] {
        var errors = [Double](repeating: 0, count: sources.count)
        squaredErrors(model, into: &errors)
        let limit = threshold * threshold
        return errors.indices.filter { errors[$0] < limit }
    }

    /// Iterated least squares on the inliers at thresholds 2t, 5t/3, 4t/3, t: starting wide lets
    /// the fit pull in inliers a noisy minimal model just missed; ending at t keeps outliers out.
    func locallyOptimise(_ start: Hypothesis) -> Hypothesis? {
        var best: Hypothesis?
        var model = start.model
        let steps = 4
        for step in 0 ..< steps {
            let factor = 2.0 - Double(step) / Double(steps - 1)
            let members = inliers(of: model, threshold: factor * threshold)
            guard members.count > kind.minimalSampleSize,
                  let refit = MinimalSolvers.fit(kind, sources: sources, targets: targets, indices: members)
            else { break }
            model = refit
            let candidate = score(refit)
            if candidate.isBetter(than: best) { best = candidate }
        }
        return best
    }

    /// Rejects samples that cannot give a useful model before paying for the solver.
    func sampleIsUsable(_ sample: [Int]) -> Bool {
        switch kind {
        case .similarity:
            let ds = sources[sample[0]] - sources[sample[1]], dt = targets[sample[0]] - targets[sample[1]]
            return (ds * ds).sum() > 1e-12 && (dt * dt).sum() > 1e-12
        case .affine:
            return !Self.collinear(sources[sample[0]], sources[sample[1]], sources[sample[2]])
                && !Self.collinear(targets[sample[0]], targets[sample[1]], targets[sample[2]])
        case .homography:
            // Every triple must be non-collinear in both images, and a plane seen from the front
            // keeps the orientation of all four triangles (or, mirrored, flips all four).
            var flips = 0
            for (a, b, c) in [(0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)] {
                let s = Self.cross(sources[sample[a]], sources[sample[b]], sources[sample[c]])
                let t = Self.cross(targets[sample[a]], targets[sample[b]], targets[sample[c]])
                if Self.collinear(sources[sample[a]], sources[sample[b]], sources[sample[c]])
                    || Self.collinear(targets[sample[a]], targets[sample[b]], targets[sample[c]]) { return false }
                if (s > 0) != (t > 0) { flips += 1 }
            }
            return flips == 0 || flips == 4
        }
    }

    static func cross(_ a: SIMD2<Double>, _ b: SIMD2<Double>, _ c: SIMD2<Double>) -> Double {
        let u = b - a, v = c - a
        return u.x * v.y - u.y * v.x
    }

    /// Collinear up to an angle of about 10⁻⁶ rad (relative, so independent of the pixel scale).
    static func collinear(_ a: SIMD2<Double>, _ b: SIMD2<Double>, _ c: SIMD2<Double>) -> Bool {
        let u = b - a, v = c - a
        let scale = ((u * u).sum() * (v * v).sum()).squareRoot()
        return abs(u.x * v.y - u.y * v.x) <= 1e-6 * scale
    }
}
