import Foundation
import LandmarkGeometry
import LandmarkLinearAlgebra
import LandmarkLocalFeatures
@testable import LandmarkPipeline
import Testing

/// Synthetic feature sets: random well-separated descriptors at given positions.
private func features(_ points: [SIMD2<Float>], descriptors: [[Float]]) -> LocalFeatures {
    LocalFeatures(keypoints: points.map { Keypoint(x: $0.x, y: $0.y, size: 4, angle: 0, response: 1, octave: 0) },
                  descriptors: Matrix(rowVectors: descriptors), imageWidth: 400, imageHeight: 300)
}

private func randomDescriptors(_ count: Int, seed: UInt64) -> [[Float]] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in l2Normalized((0..<32).map { _ in Float(generator.nextUnit() - 0.5) }) }
}

private func randomPoints(_ count: Int, seed: UInt64) -> [SIMD2<Float>] {
    var generator = SplitMix64(seed: seed)
    return (0..<count).map { _ in SIMD2(Float(20 + 360 * generator.nextUnit()), Float(20 + 260 * generator.nextUnit())) }
}

@Test func aGenuineViewChangeStaysVerified() {
    let points = randomPoints(60, seed: 1), descriptors = randomDescriptors(60, seed: 2)
    // Rotate by 10°, scale by 0.8, shift.
    let moved = points.map { p in
        SIMD2(0.8 * (cos(0.17) * p.x - sin(0.17) * p.y) + 30, 0.8 * (sin(0.17) * p.x + cos(0.17) * p.y) + 10)
    }
    let pair = SpatialVerifier().verify(features(points, descriptors: descriptors), features(moved, descriptors: descriptors))
    #expect(pair.isVerified)
    #expect(pair.distinctInlierCount >= 55)
    #expect(pair.implausibility == nil)
}

/// A mirror image matches point for point, and RANSAC fits it with every point an inlier; photographs
/// of a building are never mirrored, so the pair must not count.
@Test func aMirroredConfigurationIsRejected() {
    let points = randomPoints(60, seed: 3), descriptors = randomDescriptors(60, seed: 4)
    let mirrored = points.map { SIMD2(400 - $0.x, $0.y) }
    let pair = SpatialVerifier().verify(features(points, descriptors: descriptors), features(mirrored, descriptors: descriptors))
    #expect(pair.result.inlierCount >= 55, "RANSAC itself fits the reflection")
    #expect(!pair.isVerified)
    #expect(pair.score == 0)
    #expect(pair.implausibility?.contains("mirror") == true)
}

/// Forty keypoints whose descriptors all match one keypoint of the other image (repeated texture): a
/// fan of lines into one point. One-to-one matching keeps one of them.
@Test func aFanIntoOnePointIsNotVerified() {
    let centre = randomDescriptors(1, seed: 5)[0]
    var generator = SplitMix64(seed: 6)
    let fan = (0..<40).map { _ in l2Normalized(centre.map { $0 + Float(generator.nextUnit() - 0.5) * 0.02 }) }
    let others = randomDescriptors(8, seed: 7)
    let a = features(randomPoints(48, seed: 8), descriptors: fan + others)
    let bPoints = [SIMD2<Float>(200, 150)] + randomPoints(8, seed: 9)
    let b = features(bPoints, descriptors: [centre] + others)
    let matches = FeatureMatcher.ratioTest(a, b)
    #expect(matches.filter { $0.train == 0 }.count >= 30, "the ratio test alone keeps the fan")
    let pair = SpatialVerifier().verify(a, b)
    #expect(pair.matches.filter { $0.train == 0 }.count == 1)
    #expect(Set(pair.matches.map(\.train)).count == pair.matches.count, "no target keypoint used twice")
    #expect(!pair.isVerified)
}

@Test func uniqueTargetsKeepsTheClosestMatchPerKeypoint() {
    let matches = [FeatureMatch(query: 0, train: 5, distance: 0.3), FeatureMatch(query: 1, train: 5, distance: 0.1),
                   FeatureMatch(query: 2, train: 6, distance: 0.2), FeatureMatch(query: 3, train: 5, distance: 0.1)]
    #expect(FeatureMatcher.uniqueTargets(matches) == [matches[1], matches[2]])
}

@Test func distinctInliersCountCoincidentPointsOnce() {
    let plausibility = ModelPlausibility(distinctPointRadius: 2)
    let collapsed = (0..<10).map { PointCorrespondence(source: SIMD2(Double($0) * 10, 5), target: SIMD2(50, 50.5 + Double($0) * 0.1)) }
    #expect(plausibility.distinctCount(collapsed) == 1)
    let spread = (0..<10).map { PointCorrespondence(source: SIMD2(Double($0) * 10, 5), target: SIMD2(Double($0) * 10, 50)) }
    #expect(plausibility.distinctCount(spread) == 10)
}

@Test func squeezedAndRescaledModelsAreImplausible() throws {
    let plausibility = ModelPlausibility()
    let inliers = [PointCorrespondence(source: SIMD2(10, 10), target: SIMD2(10, 10)),
                   PointCorrespondence(source: SIMD2(100, 80), target: SIMD2(100, 80))]
    let squeeze = try #require(GeometricModel(kind: .affine, matrix: [1, 0, 0, 0, 0.02, 0, 0, 0, 1]))
    #expect(plausibility.implausibility(of: squeeze, inliers: inliers)?.contains("squeezes") == true)
    let zoom = try #require(GeometricModel(kind: .similarity, matrix: [12, 0, 0, 0, 12, 0, 0, 0, 1]))
    #expect(plausibility.implausibility(of: zoom, inliers: inliers)?.contains("scale") == true)
    let fine = try #require(GeometricModel(kind: .similarity, matrix: [0.9, -0.2, 5, 0.2, 0.9, 3, 0, 0, 1]))
    #expect(plausibility.implausibility(of: fine, inliers: inliers) == nil)
}
