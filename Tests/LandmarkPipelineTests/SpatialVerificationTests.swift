import Foundation
import LandmarkEvaluation
import LandmarkGeometry
import LandmarkImage
import LandmarkPipeline
import Testing

@Suite struct SpatialVerificationTests {
    @Test func aPhotographVerifiesAgainstAShiftedCropOfItselfButNotAgainstNoise() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let entries = try makeSyntheticDataset(in: temporary.url, landmarks: 1, views: 1, distractors: 0)
        let original = try ImageDecoder.decode(contentsOf: temporary.url.appendingPathComponent(entries[0].relativePath))
        let crop = try #require(original.cropped(x0: 17, y0: 9, x1: original.width, y1: original.height))
        var noise = RGBImage(width: original.width, height: original.height, repeating: (0, 0, 0))
        var state: UInt32 = 12345
        for index in noise.pixels.indices {
            state = state &* 1_664_525 &+ 1_013_904_223
            noise.pixels[index] = UInt8(truncatingIfNeeded: state >> 24)
        }
        let verifier = SpatialVerifier(minimumInliers: 10)
        let features = [original, crop, noise].map { verifier.sift.extract($0) }
        let same = verifier.verify(features[0], features[1])
        #expect(same.isVerified)
        if let model = same.result.model, let mapped = model.transform(SIMD2(100, 80)) {
            // The crop shifts content by (−17, −9) pixels.
            #expect(abs(mapped.x - 83) < 1.5 && abs(mapped.y - 71) < 1.5)
        }
        let different = verifier.verify(features[0], features[2])
        #expect(!different.isVerified)
        #expect(different.inlierCount == 0)
    }
}

@Suite struct ASMKRetrievalTests {
    @Test func localFeatureRetrievalRanksEveryOtherImageAndBeatsChance() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        _ = try makeSyntheticDataset(in: temporary.url, landmarks: 3, views: 3, distractors: 2)
        let benchmark = try FolderBenchmark.load(temporary.url)
        let retrieval = ASMKRetrieval(vocabularySize: 32)
        let (report, rankings) = try retrieval.evaluate(benchmark)
        #expect(report.queries == 9)
        #expect(report.skipped.isEmpty)
        #expect(rankings.allSatisfy { $0.ranking.count == benchmark.images.count - 1 && !$0.ranking.contains($0.query) })
        // Each query has 2 positives among 10 other images: a random ranking scores about 0.25.
        #expect(report.meanAveragePrecision > 0.4)
        #expect(report.descriptor.hasPrefix("rootsift-asmk"))
    }

    @Test func tooFewFeaturesForTheVocabularyIsAClearError() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        _ = try makeSyntheticDataset(in: temporary.url, landmarks: 1, views: 2, distractors: 0)
        let benchmark = try FolderBenchmark.load(temporary.url)
        #expect(throws: PipelineError.self) { try ASMKRetrieval(vocabularySize: 1_000_000).evaluate(benchmark) }
    }
}
