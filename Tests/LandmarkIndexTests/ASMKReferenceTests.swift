import Testing
import LandmarkIndex
import LandmarkLinearAlgebra

/// Scores against the reference implementation jenicek/asmk, run on the same tiny case by
/// scripts/fixtures/asmk_make_fixtures.py (its kernel, Cython Hamming code and inverted file).
/// The dimension, 40, is not a multiple of 32, so the reference's padded bit count is exercised.
@Suite("ASMK against the reference implementation")
struct ASMKReferenceTests {
    /// Float32 accumulation here against float32/float64 mixtures there.
    static let relativeTolerance = 1e-4
    static let absoluteTolerance = 1e-6

    @Test(arguments: ASMKReferenceFixture.cases.indices)
    func scoresMatchTheReference(caseIndex: Int) {
        let fixture = ASMKReferenceFixture.cases[caseIndex]
        let configuration = ASMKConfiguration(
            alpha: fixture.alpha, threshold: fixture.threshold,
            queryMultipleAssignment: fixture.queryMultipleAssignment,
            databaseMultipleAssignment: ASMKReferenceFixture.databaseMultipleAssignment,
            binary: fixture.binary, useIDF: fixture.useIDF)
        let vocabulary = VisualVocabulary(centroids: Matrix(rowVectors: ASMKReferenceFixture.centroids))
        var index = ASMKIndex(vocabulary: vocabulary, configuration: configuration)
        for image in ASMKReferenceFixture.databaseImages {
            _ = index.add(imageDescriptors: Matrix(rowVectors: image))
        }
        for (queryIndex, query) in ASMKReferenceFixture.queries.enumerated() {
            let results = index.search([Matrix(rowVectors: query)], k: index.imageCount)[0]
            #expect(results.count == index.imageCount)
            for result in results {
                let expected = fixture.scores[queryIndex][result.index]
                let difference = abs(Double(result.score) - expected)
                #expect(difference <= Self.absoluteTolerance + Self.relativeTolerance * abs(expected),
                        "case \(caseIndex), query \(queryIndex), image \(result.index): \(result.score) vs \(expected)")
            }
        }
    }
}
