import Foundation
@testable import LandmarkDescriptors
import LandmarkLinearAlgebra
import Testing

/// Learned whitening from fewer pairs than dimensions (pairs mined from a personal collection), against
/// scripts/fixtures/whitening_shrinkage_make_fixtures.py: scikit-learn's Ledoit–Wolf intensity and
/// cirtorch's whitenlearn with the shrunk pair covariance. Sign-invariant comparisons as in
/// WhiteningTests: PᵀP relative 1e-5 (P is rounded to float32), inner products of whitened
/// descriptors 1e-5 absolute.
@Suite struct WhiteningShrinkageTests {
    struct Case: Decodable {
        let name: String
        let intensity: Double
        let mean: [Double]
        let projection: [Double]
    }

    struct Fixture: Decodable {
        let dimension: Int
        let descriptors: [Float]
        let queryIndices: [Int]
        let positiveIndices: [Int]
        let ledoitWolfIntensity: Double
        let cases: [Case]
    }

    static func load() throws -> Fixture {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/whitening_shrinkage", withExtension: "json"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func gramOfRows(_ values: [Double], rows: Int, columns: Int) -> [Double] {
        var result = [Double](repeating: 0, count: columns * columns)
        for k in 0 ..< rows {
            for i in 0 ..< columns {
                for j in 0 ..< columns { result[i * columns + j] += values[k * columns + i] * values[k * columns + j] }
            }
        }
        return result
    }

    @Test func theCirtorchEstimateRefusesTooFewPairs() throws {
        let fixture = try Self.load()
        let descriptors = Matrix(rows: fixture.descriptors.count / fixture.dimension, columns: fixture.dimension,
                                 storage: fixture.descriptors)
        #expect(fixture.queryIndices.count < fixture.dimension)
        #expect(throws: WhiteningError.self) {
            try Whitening.learn(descriptors, queryIndices: fixture.queryIndices, positiveIndices: fixture.positiveIndices)
        }
        #expect(throws: WhiteningError.self) {
            try Whitening.learn(descriptors, queryIndices: fixture.queryIndices, positiveIndices: fixture.positiveIndices,
                                shrinkage: .fixed(1.5))
        }
    }

    @Test func shrunkLearnedWhiteningMatchesTheReference() throws {
        let fixture = try Self.load()
        let dimension = fixture.dimension
        let descriptors = Matrix(rows: fixture.descriptors.count / dimension, columns: dimension, storage: fixture.descriptors)
        for reference in fixture.cases {
            let shrinkage: Whitening.PairShrinkage = reference.name == "ledoit-wolf" ? .ledoitWolf : .fixed(reference.intensity)
            let (whitening, intensity) = try Whitening.learnReportingShrinkage(
                descriptors, queryIndices: fixture.queryIndices, positiveIndices: fixture.positiveIndices, shrinkage: shrinkage)
            #expect(abs(intensity - reference.intensity) <= 1e-9 * max(1, reference.intensity),
                    "\(reference.name): intensity \(intensity) vs scikit-learn \(reference.intensity)")
            #expect(zip(whitening.mean, reference.mean).allSatisfy { abs(Double($0) - $1) <= 1e-6 })
            let ours = Self.gramOfRows(whitening.projection.storage.map(Double.init), rows: dimension, columns: dimension)
            let theirs = Self.gramOfRows(reference.projection, rows: dimension, columns: dimension)
            let scale = theirs.map(abs).max() ?? 1
            let difference = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            #expect(difference <= 1e-5 * scale, "\(reference.name): PᵀP relative \(difference / scale)")

            // Whitened descriptors' inner products, computed from the reference P in float64.
            let whitened = whitening.apply(descriptors)
            var expected = [Double](repeating: 0, count: descriptors.rows * dimension)
            for row in 0 ..< descriptors.rows {
                var norm: Double = 0
                for output in 0 ..< dimension {
                    var value: Double = 0
                    for input in 0 ..< dimension {
                        value += reference.projection[output * dimension + input] * (Double(descriptors[row, input]) - reference.mean[input])
                    }
                    expected[row * dimension + output] = value
                    norm += value * value
                }
                for output in 0 ..< dimension { expected[row * dimension + output] /= norm.squareRoot() + 1e-6 }
            }
            let oursGram = whitened.multiplied(byTransposeOf: whitened).storage
            let expectedMatrix = Matrix(rows: descriptors.rows, columns: dimension, storage: expected.map { Float($0) })
            let theirsGram = expectedMatrix.multiplied(byTransposeOf: expectedMatrix).storage
            let gramDifference = zip(oursGram, theirsGram).map { abs($0 - $1) }.max() ?? 0
            #expect(gramDifference <= 1e-5, "\(reference.name): inner products max |Δ| \(gramDifference)")
        }
    }

    /// Plentiful pairs with an anisotropic covariance drive the Ledoit–Wolf intensity towards 0 (little is
    /// shrunk when the pairs determine S); an isotropic one towards 1 (the target is then the truth).
    @Test func ledoitWolfFollowsTheShapeOfTheCovariance() throws {
        var generator = SplitMix64(seed: 5)
        let dimension = 8, pairs = 4000
        var differences = [Double](repeating: 0, count: pairs * dimension)
        for index in differences.indices {
            differences[index] = (Double(generator.next() % 10_000) / 10_000 - 0.5) * Double(1 + index % dimension)
        }
        var covariance = [Double](repeating: 0, count: dimension * dimension)
        for pair in 0 ..< pairs {
            for i in 0 ..< dimension {
                for j in 0 ..< dimension {
                    covariance[i * dimension + j] += differences[pair * dimension + i] * differences[pair * dimension + j] / Double(pairs)
                }
            }
        }
        let intensity = Whitening.ledoitWolfIntensity(differences: differences, covariance: covariance, samples: pairs, dimension: dimension)
        #expect(intensity >= 0 && intensity < 0.01, "anisotropic: \(intensity)")
        // The same samples with every dimension rescaled to unit spread: isotropic.
        var isotropic = differences, isotropicCovariance = covariance
        for index in isotropic.indices { isotropic[index] /= Double(1 + index % dimension) }
        for i in 0 ..< dimension {
            for j in 0 ..< dimension { isotropicCovariance[i * dimension + j] /= Double((1 + i) * (1 + j)) }
        }
        let isotropicIntensity = Whitening.ledoitWolfIntensity(differences: isotropic, covariance: isotropicCovariance,
                                                               samples: pairs, dimension: dimension)
        #expect(isotropicIntensity > 0.5, "isotropic: \(isotropicIntensity)")
    }
}
