import Foundation
import Testing
@testable import LandmarkGeometry

@Suite struct MinimalSolverTests {
    func exactCorrespondences(_ model: GeometricModel, _ sources: [SIMD2<Double>]) throws -> [PointCorrespondence] {
        try sources.map { PointCorrespondence(source: $0, target: try #require(model.transform($0))) }
    }

    func expectClose(_ a: GeometricModel?, _ b: GeometricModel, tolerance: Double = 1e-8) {
        guard let a else { Issue.record("solver returned nil"); return }
        for (x, y) in zip(a.matrix, b.matrix) {
            #expect(abs(x - y) <= tolerance * max(1, abs(y)), "\(a.matrix) vs \(b.matrix)")
        }
    }

    let frame: [SIMD2<Double>] = [SIMD2(12, 30), SIMD2(900, 55), SIMD2(870, 700), SIMD2(40, 610), SIMD2(500, 380),
                                  SIMD2(300, 100)]

    @Test func minimalSolversAreExactOnExactData() throws {
        for kind in GeometricModelKind.allCases {
            let truth = try #require(SyntheticSet.model(kind))
            let sample = try exactCorrespondences(truth, Array(frame.prefix(kind.minimalSampleSize)))
            expectClose(MinimalSolvers.minimal(kind, sample), truth)
            expectClose(MinimalSolvers.leastSquares(kind, try exactCorrespondences(truth, frame)), truth)
        }
        let h = try #require(SyntheticSet.model(.homography))
        expectClose(MinimalSolvers.homography(try exactCorrespondences(h, Array(frame.prefix(4)))), h)
        let a = try #require(SyntheticSet.model(.affine))
        expectClose(MinimalSolvers.affine(try exactCorrespondences(a, Array(frame.prefix(3)))), a)
        let s = try #require(SyntheticSet.model(.similarity))
        expectClose(MinimalSolvers.similarity(try exactCorrespondences(s, Array(frame.prefix(2)))), s)
    }

    @Test func wrongSampleSizesGiveNil() throws {
        let h = try #require(SyntheticSet.model(.homography))
        let five = try exactCorrespondences(h, Array(frame.prefix(5)))
        #expect(MinimalSolvers.homography(five) == nil)
        #expect(MinimalSolvers.affine(Array(five.prefix(2))) == nil)
        #expect(MinimalSolvers.similarity(Array(five.prefix(1))) == nil)
    }

    @Test func degenerateSamplesGiveNil() {
        let line: [PointCorrespondence] = (0 ..< 4).map { (i: Int) -> PointCorrespondence in
            let x = Double(i)
            return PointCorrespondence(source: SIMD2<Double>(x, 2 * x), target: SIMD2<Double>(x * 3, x * x))
        }
        #expect(MinimalSolvers.homography(line) == nil)
        #expect(MinimalSolvers.affine(Array(line.prefix(3))) == nil)
        // Three of four collinear.
        var threeOnLine = line
        threeOnLine[3].source = SIMD2(5, -4)
        #expect(MinimalSolvers.homography(threeOnLine) == nil)
        let coincident = [PointCorrespondence](repeating: PointCorrespondence(source: SIMD2(1, 1), target: SIMD2(2, 2)), count: 2)
        #expect(MinimalSolvers.similarity(coincident) == nil)
    }

    @Test func jacobiDecomposesASymmetricMatrix() {
        let n = 9
        var a = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in i ..< n { let v = Double((i * 7 + j * 3) % 11) - 5; a[i * n + j] = v; a[j * n + i] = v } }
        let eigen = SymmetricJacobi(symmetric: a, n: n)
        for k in 0 ..< n {
            let v = eigen.eigenvector(k), lambda = eigen.eigenvalues[k]
            for i in 0 ..< n {
                var av = 0.0
                for j in 0 ..< n { av += a[i * n + j] * v[j] }
                #expect(abs(av - lambda * v[i]) < 1e-10)
            }
        }
    }
}

@Suite struct HomographyRefinementTests {
    @Test func refinementLowersTheGeometricErrorOfAPerturbedHomography() throws {
        let truth = try #require(SyntheticSet.model(.homography))
        let set = SyntheticSet(truth: truth, count: 200, outlierRatio: 0, seed: 21)
        var perturbed = truth.matrix
        perturbed[2] += 3; perturbed[4] *= 1.01; perturbed[6] += 2e-5
        let start = try #require(GeometricModel(kind: .homography, matrix: perturbed))
        let refined = try #require(MinimalSolvers.refinedHomography(start, set.correspondences))
        let before = set.correspondences.map(start.transferError).reduce(0, +)
        let after = set.correspondences.map(refined.transferError).reduce(0, +)
        #expect(after < before)
        #expect(reprojectionError(refined, set) < 0.2)
        #expect(refined.matrix[8] == 1)
    }

    @Test func refinementNeedsFivePoints() throws {
        let truth = try #require(SyntheticSet.model(.homography))
        let set = SyntheticSet(truth: truth, count: 4, outlierRatio: 0, seed: 2)
        #expect(MinimalSolvers.refinedHomography(truth, set.correspondences) == nil)
    }
}

@Suite struct CodingTests {
    @Test func resultRoundTripsThroughJSON() throws {
        let truth = try #require(SyntheticSet.model(.affine))
        let set = SyntheticSet(truth: truth, count: 60, outlierRatio: 0.3, seed: 9)
        let result = RANSAC.estimate(set.correspondences, configuration: .init(kind: .affine))
        let data = try JSONEncoder().encode(result)
        #expect(try JSONDecoder().decode(VerificationResult.self, from: data) == result)
    }

    @Test func malformedModelIsRejected() {
        let json = Data(#"{"kind":"homography","matrix":[1,0,0,0,1,0,0,0]}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(GeometricModel.self, from: json) }
    }
}
