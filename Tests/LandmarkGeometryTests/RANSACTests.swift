import Foundation
import Testing
@testable import LandmarkGeometry

/// Root-mean-square forward transfer error of `model` on the noise-free images of the true inliers'
/// sources, i.e. how far the recovered model is from the truth where it matters.
func reprojectionError(_ model: GeometricModel, _ set: SyntheticSet) -> Double {
    var sum = 0.0, count = 0
    for (c, inlier) in zip(set.correspondences, set.isInlier) where inlier {
        guard let a = model.transform(c.source), let b = set.truth.transform(c.source) else { return .infinity }
        sum += ((a - b) * (a - b)).sum()
        count += 1
    }
    return (sum / Double(max(count, 1))).squareRoot()
}

@Suite struct RANSACTests {
    @Test(arguments: GeometricModelKind.allCases)
    func recoversKnownModelWithHalfOutliers(kind: GeometricModelKind) throws {
        let truth = try #require(SyntheticSet.model(kind))
        let set = SyntheticSet(truth: truth, count: 400, outlierRatio: 0.5, seed: 42)
        let result = RANSAC.estimate(set.correspondences, configuration: .init(kind: kind, seed: 7))
        #expect(result.isVerified)
        #expect(result.reason == nil)
        let model = try #require(result.model)
        #expect(model.kind == kind)
        let error = reprojectionError(model, set)
        #expect(error < 1, "reprojection error \(error) px")
        let truePositives = result.inliers.filter { set.isInlier[$0] }.count
        let precision = Double(truePositives) / Double(result.inliers.count)
        let recall = Double(truePositives) / Double(set.isInlier.filter { $0 }.count)
        #expect(precision >= 0.95, "precision \(precision)")
        #expect(recall >= 0.95, "recall \(recall)")
        #expect(result.inlierCount == result.inliers.count)
        #expect(result.inliers == result.inliers.sorted())
        #expect(result.iterations < 10_000, "adaptive stopping should end well before the cap")
    }

    @Test(arguments: GeometricModelKind.allCases)
    func sameSeedGivesIdenticalResults(kind: GeometricModelKind) throws {
        let truth = try #require(SyntheticSet.model(kind))
        let set = SyntheticSet(truth: truth, count: 200, outlierRatio: 0.6, seed: 3)
        let configuration = RANSACConfiguration(kind: kind, seed: 99)
        let first = RANSAC.estimate(set.correspondences, configuration: configuration)
        let second = RANSAC.estimate(set.correspondences, configuration: configuration)
        #expect(first == second)
    }

    @Test func withoutLocalOptimisationStillRecoversHomography() throws {
        let truth = try #require(SyntheticSet.model(.homography))
        let set = SyntheticSet(truth: truth, count: 300, outlierRatio: 0.5, seed: 5)
        let result = RANSAC.estimate(set.correspondences,
                                     configuration: .init(kind: .homography, localOptimization: false, seed: 1))
        #expect(result.isVerified)
        let model = try #require(result.model)
        #expect(reprojectionError(model, set) < 1)
    }

    @Test(arguments: 0 ... 3)
    func tooFewCorrespondencesForHomography(count: Int) {
        let points: [PointCorrespondence] = (0 ..< count).map { (i: Int) -> PointCorrespondence in
            PointCorrespondence(source: SIMD2<Double>(Double(i) * 10, Double(i * i)), target: SIMD2<Double>(Double(i), 5))
        }
        let result = RANSAC.estimate(points)
        #expect(!result.isVerified)
        #expect(result.model == nil)
        #expect(result.reason?.contains("too few") == true)
    }

    @Test(arguments: GeometricModelKind.allCases)
    func collinearOrIdenticalPointsAreDegenerate(kind: GeometricModelKind) {
        let collinear: [PointCorrespondence] = (0 ..< 50).map { (i: Int) -> PointCorrespondence in
            let x: Double = Double(i) * 7, u: Double = Double(i) * 5
            return PointCorrespondence(source: SIMD2<Double>(x, 2 * x + 3), target: SIMD2<Double>(u + 1, 3 * u - 2))
        }
        let identical = [PointCorrespondence](repeating: PointCorrespondence(source: SIMD2(10, 20), target: SIMD2(30, 40)),
                                              count: 50)
        let onLine = RANSAC.estimate(collinear, configuration: .init(kind: kind))
        let same = RANSAC.estimate(identical, configuration: .init(kind: kind))
        #expect(!same.isVerified)
        #expect(same.reason?.contains("degenerate") == true)
        if kind == .similarity {
            // A similarity is determined by points on a line; only the whole-plane kinds are degenerate.
            #expect(onLine.isVerified)
        } else {
            #expect(!onLine.isVerified)
            #expect(onLine.reason?.contains("collinear") == true)
        }
    }

    @Test func nonFiniteCorrespondencesAreDroppedWithAReason() throws {
        let truth = try #require(SyntheticSet.model(.homography))
        var set = SyntheticSet(truth: truth, count: 120, outlierRatio: 0.3, seed: 8)
        set.correspondences[0].source.x = .nan
        set.correspondences[1].target.y = .infinity
        set.correspondences[2].source = SIMD2(-.infinity, .nan)
        let result = RANSAC.estimate(set.correspondences)
        #expect(result.isVerified)
        #expect(result.nonFiniteCount == 3)
        #expect(!result.inliers.contains(0) && !result.inliers.contains(1) && !result.inliers.contains(2))

        let allNaN = [PointCorrespondence](repeating: PointCorrespondence(source: SIMD2(.nan, .nan), target: SIMD2(1, 1)),
                                           count: 10)
        let none = RANSAC.estimate(allNaN)
        #expect(!none.isVerified)
        #expect(none.nonFiniteCount == 10)
        #expect(none.reason?.contains("NaN") == true)
    }

    @Test(arguments: GeometricModelKind.allCases)
    func pureOutliersAreNotVerified(kind: GeometricModelKind) throws {
        let truth = try #require(SyntheticSet.model(kind))
        let set = SyntheticSet(truth: truth, count: 150, outlierRatio: 1, seed: 13)
        let result = RANSAC.estimate(set.correspondences,
                                     configuration: .init(kind: kind, maximumIterations: 2_000, seed: 4))
        #expect(!result.isVerified)
        #expect(result.reason?.contains("no model with enough inliers") == true)
        #expect(result.iterations == 2_000)
    }

    @Test func hugeCoordinatesDoNotCrash() {
        let points: [PointCorrespondence] = (0 ..< 30).map { (i: Int) -> PointCorrespondence in
            let big: Double = 1e300
            let source = SIMD2<Double>(Double(i) * big, Double(i % 7) * big)
            return PointCorrespondence(source: source, target: SIMD2<Double>(Double(i % 5) * big, Double(i) * -big))
        }
        for kind in GeometricModelKind.allCases {
            let result = RANSAC.estimate(points, configuration: .init(kind: kind, maximumIterations: 200))
            #expect(!result.isVerified)
        }
    }

    @Test func invalidThresholdIsReported() {
        let result = RANSAC.estimate([], configuration: .init(inlierThreshold: -1))
        #expect(!result.isVerified)
        #expect(result.reason?.contains("invalid configuration") == true)
    }

    @Test func adaptiveStoppingFormula() {
        // w = 0.5, s = 4, p = 0.999: log(0.001) / log(1 − 1/16) = 107.03 → 108.
        #expect(RANSAC.requiredIterations(inliers: 50, total: 100, sampleSize: 4, confidence: 0.999) == 108)
        #expect(RANSAC.requiredIterations(inliers: 100, total: 100, sampleSize: 4, confidence: 0.999) == 0)
        #expect(RANSAC.requiredIterations(inliers: 0, total: 100, sampleSize: 4, confidence: 0.999) == Int.max)
    }
}

@Suite struct RANSACSanityTests {
    /// Not timed: checks that a larger, harder input stops adaptively well before the cap and still
    /// finds every true inlier.
    @Test func largerInputWithSeventyPercentOutliers() throws {
        let truth = try #require(SyntheticSet.model(.homography))
        let set = SyntheticSet(truth: truth, count: 1000, outlierRatio: 0.7, noise: 1, seed: 77)
        let result = RANSAC.estimate(set.correspondences)
        #expect(result.isVerified)
        #expect(result.iterations < 2_000, "\(result.iterations) hypotheses")
        let truePositives = result.inliers.filter { set.isInlier[$0] }.count
        #expect(Double(truePositives) >= 0.95 * 300)
        #expect(reprojectionError(try #require(result.model), set) < 1)
    }

    @Test func higherMinimumInliersRejectsASmallConsensus() throws {
        let truth = try #require(SyntheticSet.model(.similarity))
        let set = SyntheticSet(truth: truth, count: 40, outlierRatio: 0.5, seed: 6)
        let loose = RANSAC.estimate(set.correspondences, configuration: .init(kind: .similarity))
        let strict = RANSAC.estimate(set.correspondences, configuration: .init(kind: .similarity), minimumInliers: 50)
        #expect(loose.isVerified)
        #expect(!strict.isVerified)
        #expect(strict.inlierCount == loose.inlierCount)
        #expect(strict.reason?.contains("50 required") == true)
    }
}
