import Testing
import LandmarkLinearAlgebra
@testable import LandmarkLocalFeatures

/// The 8-bit candidate search must find what the float matrix product finds (issue 16: inlier counts within
/// 2 %; here the neighbours themselves are compared).
@Suite(.enabled(if: FeatureMatcher.hasQuantizedKernel, "this processor has no AVX-512 VNNI: only the float path runs"))
struct QuantizedMatchingTests {
    /// RootSIFT-like rows (non-negative, unit norm); the first `related` queries are noisy copies of train rows
    /// so that some pass the ratio test and others do not.
    static func descriptors(queries: Int, train: Int, related: Int, dimension: Int = 128,
                            noise: Float = 0.05, seed: UInt64 = 3) -> (Matrix, Matrix) {
        var generator = SplitMix64(seed: seed)
        func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 24) }
        func normalised(_ row: [Float]) -> [Float] {
            let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
            return norm > 0 ? row.map { $0 / norm } : row
        }
        var trainRows: [Float] = []
        for _ in 0 ..< train { trainRows += normalised((0 ..< dimension).map { _ in let u = uniform(); return u * u * u }) }
        var queryRows: [Float] = []
        for query in 0 ..< queries {
            if query < related {
                let source = (query * 7) % train
                let row = (0 ..< dimension).map { max(0, trainRows[source * dimension + $0] + noise * (uniform() - 0.5)) }
                queryRows += normalised(row)
            } else {
                queryRows += normalised((0 ..< dimension).map { _ in let u = uniform(); return u * u * u })
            }
        }
        return (Matrix(rows: queries, columns: dimension, storage: queryRows),
                Matrix(rows: train, columns: dimension, storage: trainRows))
    }

    @Test(arguments: [(300, 500, 150, 128), (7, 17, 3, 128), (1, 2, 1, 128), (40, 33, 20, 30), (9, 1, 4, 64)])
    func sameNeighboursAsTheFloatProduct(queries: Int, train: Int, related: Int, dimension: Int) throws {
        let (a, b) = Self.descriptors(queries: queries, train: train, related: related, dimension: dimension)
        let float = FeatureMatcher.twoNearest(a, b, quantized: false)
        let quantized = try #require(FeatureMatcher.quantizedTwoNearest(a, b, ratio: .infinity))
        #expect(quantized.count == queries)
        for (row, (got, want)) in zip(quantized, float).enumerated() {
            if want.second - want.first > 1e-4 { #expect(got.index == want.index, "row \(row)") }
            #expect(abs(got.first - want.first) < 1e-4, "row \(row): \(got.first) vs \(want.first)")
            if want.second.isFinite {
                #expect(abs(got.second - want.second) < 1e-4, "row \(row): \(got.second) vs \(want.second)")
            } else {
                #expect(got.second == .infinity)
            }
        }
    }

    /// Rows that certainly fail the ratio test are not scored again; the matches are still the float ones.
    @Test func ratioTestMatchesAreTheFloatOnes() throws {
        let (a, b) = Self.descriptors(queries: 400, train: 600, related: 120, noise: 0.15)
        func features(_ descriptors: Matrix) -> LocalFeatures {
            LocalFeatures(keypoints: (0 ..< descriptors.rows).map { Keypoint(x: Float($0), y: 0, size: 2, angle: 0, response: 1, octave: 0) },
                          descriptors: descriptors, imageWidth: 100, imageHeight: 100)
        }
        for ratio: Float in [0.6, 0.8, 0.95] {
            let quantized = FeatureMatcher.ratioTest(features(a), features(b), ratio: ratio)
            let float = FeatureMatcher.ratioTest(features(a), features(b), ratio: ratio, quantizedCandidates: false)
            #expect(quantized.map(\.query) == float.map(\.query) && quantized.map(\.train) == float.map(\.train))
            #expect(quantized.count > 10 && quantized.count < 400, "ratio \(ratio): \(quantized.count) matches")
            for (got, want) in zip(quantized, float) { #expect(abs(got.distance - want.distance) < 1e-4) }
        }
        // Features carry their quantised form; an image against itself takes it on both sides.
        #expect(features(a).matchingForm != nil)
        let itself = FeatureMatcher.ratioTest(features(a), features(a), ratio: 0.8)
        let itselfFloat = FeatureMatcher.ratioTest(features(a), features(a), ratio: 0.8, quantizedCandidates: false)
        #expect(itself.map(\.train) == itselfFloat.map(\.train) && itself.count == itselfFloat.count)
        var edited = features(a)
        edited.descriptors.storage[0] = -1
        #expect(edited.matchingForm == nil, "a form made before the descriptors changed was kept")
        let skipped = try #require(FeatureMatcher.quantizedTwoNearest(a, b, ratio: 0.8))
        #expect(skipped.contains { $0.first == .infinity }, "no row was left out of the float scoring")
    }

    /// Negative, NaN or all-zero components do not suit unsigned bytes: the float path answers instead.
    @Test func unsuitedDataFallsBackToFloat() {
        let (a, b) = Self.descriptors(queries: 20, train: 30, related: 10)
        var negative = b
        negative.storage[5] = -0.25
        #expect(FeatureMatcher.quantizedTwoNearest(a, negative, ratio: .infinity) == nil)
        #expect(FeatureMatcher.twoNearest(a, negative).map(\.index) == FeatureMatcher.twoNearest(a, negative, quantized: false).map(\.index))
        var notANumber = a
        notANumber.storage[3] = .nan
        #expect(FeatureMatcher.quantizedTwoNearest(notANumber, b, ratio: .infinity) == nil)
        let zeros = Matrix(rows: 4, columns: 128)
        #expect(FeatureMatcher.quantizedTwoNearest(zeros, b, ratio: .infinity) == nil)
    }
}
