import Foundation
import LandmarkDescriptors
import LandmarkLinearAlgebra
import LandmarkPipeline
import Testing

/// Whitening as users apply it: a whitening file named in the descriptor spec of an index.
@Suite struct WhiteningIntegrationTests {
    static var weightsPresent: Bool { (try? ModelCache.resolve("lite0")) != nil }

    /// A well-conditioned random whitening of 1280-D (EfficientNet-Lite) descriptors.
    func randomWhitening() throws -> Whitening {
        var state: UInt64 = 0x5EED
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
        }
        let dimension = 1280
        let mean = (0..<dimension).map { _ in next() * 0.01 }
        var projection = Matrix(rows: dimension, columns: dimension)
        for row in 0..<dimension {
            for column in 0..<dimension { projection[row, column] = (row == column ? 1 : 0) + 0.02 * next() }
        }
        return try Whitening(kind: .learned, mean: mean, projection: projection)
    }

    @Test(.enabled(if: weightsPresent, "needs the Lite0 weights (scripts/setup.sh)"))
    func indexWithWhiteningStoresWhitenedReducedDescriptors() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let whitening = try randomWhitening()
        let whiteningURL = temporary.path("lw.whitening")
        try whitening.write(to: whiteningURL)

        let raw = try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite0", size: 96))
        let whitened = try CNNGlobalDescriptor(CNNDescriptorConfiguration(
            model: "lite0", size: 96, whitening: whiteningURL.path, dimensions: 64))
        #expect(whitened.dimension == 64)
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: whitened)
        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.manifest.descriptor.contains("whitening=\(whiteningURL.standardizedFileURL.path)"))
        #expect(index.manifest.descriptor.contains("dimensions=64"))
        #expect(index.store.dimension == 64)

        // Each stored descriptor is the whitening of the raw one, reduced and re-normalised.
        let extraction = DescriptorExtraction(extractor: raw)
        for (row, name) in index.store.identifiers.enumerated() {
            let rawDescriptor = try extraction.describe(ExtractionItem(url: images.appendingPathComponent(name), name: name)).get()
            let expected = whitening.apply(rawDescriptor, dimensions: 64)
            let stored = index.store.descriptor(at: row)
            #expect(zip(expected, stored).map { abs($0 - $1) }.max() ?? 1 < 1e-5)
        }
        #expect(index.store.count == entries.count)
    }

    @Test(.enabled(if: weightsPresent, "needs the Lite0 weights (scripts/setup.sh)"))
    func mismatchedWhiteningIsAClearError() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        var projection = Matrix(rows: 8, columns: 8)
        for index in 0..<8 { projection[index, index] = 1 }
        let small = try Whitening(kind: .pca, mean: [Float](repeating: 0, count: 8), projection: projection)
        let url = temporary.path("small.whitening")
        try small.write(to: url)
        #expect(throws: DescriptorError.self) {
            try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite0", size: 96, whitening: url.path))
        }
        #expect(throws: DescriptorError.self) {
            try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite0", size: 96, dimensions: 16))
        }
    }
}
