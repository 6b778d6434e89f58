import Foundation
import LandmarkImage
import LandmarkLinearAlgebra
import Testing
@testable import LandmarkLocalFeatures

struct SIFTTests {
    static let scene = randomBlobScene(width: 256, height: 256, count: 260, seed: 7)

    /// A 30°-rotated, 0.7-scaled copy is matched: most ratio-test matches agree with the known similarity.
    @Test func rotationAndScaleInvariance() {
        let size = 256
        let h = similarityAboutCentre(degrees: 30, scale: 0.7, cx: 128, cy: 128)
        let warped = warpBilinear(Self.scene, width: size, height: size, inverse: invert3(h))
        let sift = SIFT(SIFTConfiguration(imageSize: 0))
        let a = sift.extract(grayscale: Self.scene, width: size, height: size)
        let b = sift.extract(grayscale: warped, width: size, height: size)
        #expect(a.count > 100 && b.count > 50)
        let figures = warpFigures(a, b, homography: h)
        #expect(figures.correctMatches >= 40, "\(figures.correctMatches) correct of \(figures.matches)")
        #expect(Double(figures.correctMatches) >= 0.7 * Double(figures.matches))
        #expect(figures.repeatability > 0.4)
    }

    /// Without RootSIFT, descriptors are OpenCV's integers 0…255 with L2 norm 512 up to rounding.
    @Test func siftDescriptorsAreClippedAndScaled() {
        let sift = SIFT(SIFTConfiguration(imageSize: 0, rootSIFT: false))
        let features = sift.extract(grayscale: Self.scene, width: 256, height: 256)
        #expect(features.descriptors.rows == features.count && features.descriptors.columns == 128)
        #expect(features.count > 0)
        for row in 0 ..< features.descriptors.rows {
            let values = features.descriptors.row(row)
            #expect(values.allSatisfy { $0 >= 0 && $0 <= 255 && $0 == $0.rounded() })
            let norm = values.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - 512) < 8, "row \(row) norm \(norm)")
        }
    }

    /// RootSIFT rows are non-negative with unit L2 norm; keypoints are inside the image and at most the budget.
    @Test func rootSIFTRowsAreUnitAndBudgetIsKept() {
        let sift = SIFT(SIFTConfiguration(maximumFeatures: 50, imageSize: 0))
        let features = sift.extract(grayscale: Self.scene, width: 256, height: 256)
        #expect(features.count >= 50 && features.count <= 55)
        for row in 0 ..< features.descriptors.rows {
            let values = features.descriptors.row(row)
            #expect(values.allSatisfy { $0 >= 0 })
            #expect(abs(values.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
        }
        for keypoint in features.keypoints {
            #expect(keypoint.x >= 0 && keypoint.x < 256 && keypoint.y >= 0 && keypoint.y < 256)
            #expect(keypoint.angle >= 0 && keypoint.angle < 360 && keypoint.size > 0 && keypoint.response > 0)
        }
        // The budget keeps the strongest: nothing dropped is stronger than anything kept.
        let all = SIFT(SIFTConfiguration(maximumFeatures: 0, imageSize: 0))
            .extract(grayscale: Self.scene, width: 256, height: 256)
        let weakestKept = features.keypoints.map(\.response).min() ?? 0
        #expect(all.keypoints.filter { $0.response > weakestKept }.count < features.count)
    }

    @Test func rootSIFTTransform() {
        var matrix = Matrix(rowVectors: [[1, 3, 0, 0], [0, 0, 0, 0], [2, 2, 2, 2]])
        RootSIFT.transform(&matrix)
        #expect(abs(matrix[0, 0] - 0.5) < 1e-6 && abs(matrix[0, 1] - Float(0.75).squareRoot()) < 1e-6)
        #expect(matrix.row(1) == [0, 0, 0, 0])
        #expect(matrix.row(2).allSatisfy { abs($0 - 0.5) < 1e-6 })
    }

    /// Ratio test and mutual nearest neighbours equal a brute-force computation of the distances.
    @Test func matcherAgreesWithBruteForce() {
        var state: UInt64 = 99
        func random() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24)
        }
        func features(_ count: Int) -> LocalFeatures {
            let storage = (0 ..< count * 16).map { _ in random() }
            return LocalFeatures(keypoints: Array(repeating: Keypoint(x: 0, y: 0, size: 1, angle: 0, response: 1, octave: 0),
                                                  count: count),
                                 descriptors: Matrix(rows: count, columns: 16, storage: storage),
                                 imageWidth: 1, imageHeight: 1)
        }
        let a = features(40)
        var b = features(60)
        // Plant near-duplicates so the ratio test has clear matches.
        for row in 0 ..< 10 {
            for column in 0 ..< 16 { b.descriptors[row * 3, column] = a.descriptors[row, column] + 0.01 * random() }
        }
        func distance(_ i: Int, _ j: Int, _ x: Matrix, _ y: Matrix) -> Float {
            var sum: Float = 0
            for column in 0 ..< 16 { let d = x[i, column] - y[j, column]; sum += d * d }
            return sum.squareRoot()
        }
        var expectedRatio: [FeatureMatch] = []
        var nearestAB: [Int] = [], nearestBA: [Int] = []
        for i in 0 ..< 40 {
            let distances = (0 ..< 60).map { distance(i, $0, a.descriptors, b.descriptors) }
            let order = distances.indices.sorted { distances[$0] < distances[$1] }
            nearestAB.append(order[0])
            if distances[order[0]] < 0.8 * distances[order[1]] {
                expectedRatio.append(FeatureMatch(query: i, train: order[0], distance: distances[order[0]]))
            }
        }
        for j in 0 ..< 60 {
            let distances = (0 ..< 40).map { distance($0, j, a.descriptors, b.descriptors) }
            nearestBA.append(distances.indices.min { distances[$0] < distances[$1] } ?? 0)
        }
        let ratio = FeatureMatcher.ratioTest(a, b)
        #expect(ratio.map(\.query) == expectedRatio.map(\.query) && ratio.map(\.train) == expectedRatio.map(\.train))
        #expect(ratio.count >= 10)
        for (got, want) in zip(ratio, expectedRatio) { #expect(abs(got.distance - want.distance) < 1e-3) }
        let mutual = FeatureMatcher.mutualNearestNeighbours(a, b)
        let expectedMutual = (0 ..< 40).filter { nearestBA[nearestAB[$0]] == $0 }
        #expect(mutual.map(\.query) == expectedMutual && mutual.map(\.train) == expectedMutual.map { nearestAB[$0] })
    }

    /// Degenerate inputs give empty features or no matches, never a crash.
    @Test func degenerateInputsGiveNothing() {
        let sift = SIFT()
        for (width, height) in [(0, 0), (1, 1), (3, 2), (12, 12), (64, 48)] {
            let flat = sift.extract(grayscale: [Float](repeating: 128, count: width * height), width: width, height: height)
            #expect(flat.count == 0 && flat.descriptors.rows == 0 && flat.descriptors.columns == 128)
        }
        #expect(sift.extract(grayscale: [1, 2, 3], width: 5, height: 5).count == 0)
        let tiny = sift.extract(RGBImage(width: 1, height: 1, repeating: (10, 20, 30)))
        #expect(tiny.count == 0 && tiny.imageWidth == 1)
        let some = SIFT(SIFTConfiguration(imageSize: 0)).extract(grayscale: Self.scene, width: 256, height: 256)
        let empty = sift.extract(grayscale: [], width: 0, height: 0)
        #expect(FeatureMatcher.ratioTest(some, empty).isEmpty && FeatureMatcher.ratioTest(empty, some).isEmpty)
        #expect(FeatureMatcher.mutualNearestNeighbours(some, empty).isEmpty)
        var single = some
        single.keypoints = Array(some.keypoints.prefix(1))
        single.descriptors = Matrix(rows: 1, columns: 128, storage: some.descriptors.row(0))
        #expect(FeatureMatcher.ratioTest(some, single).isEmpty)
        #expect(FeatureMatcher.mutualNearestNeighbours(single, some).count == 1)
    }
}
