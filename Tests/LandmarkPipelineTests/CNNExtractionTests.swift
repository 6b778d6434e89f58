import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkPipeline
import Testing

/// The CNN descriptor as indexing computes it (decode → thumbnail → ToTensor/Normalize → EfficientNet-Lite
/// → GeM → L2N, multi-scale combined), against the reference descriptors the networks' fixture script
/// computed with PyTorch for the same photographs.
@Suite struct CNNExtractionTests {
    struct ReferenceEntry: Decodable {
        var file: String, offset: Int, dim: Int, network: String, pooling: String, size: Int, scales: [Double], photo: String
    }

    static let fixtures = packageRoot.appendingPathComponent("Tests/LandmarkNetworksTests/Fixtures")
    static var weightsPresent: Bool { (try? ModelCache.resolve("lite2")) != nil }

    func references(network: String, size: Int, scaleCount: Int) throws -> [(photo: String, descriptor: [Float])] {
        let index = try JSONDecoder().decode([ReferenceEntry].self,
                                             from: Data(contentsOf: Self.fixtures.appendingPathComponent("networks_descriptors.json")))
        return try index.filter { $0.network == network && $0.size == size && $0.scales.count == scaleCount && $0.pooling == "gem" }
            .prefix(3).map { entry in
                let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(entry.file))
                let values = data.withUnsafeBytes { raw in
                    (0..<entry.dim).map { raw.loadUnaligned(fromByteOffset: (entry.offset + $0) * 4, as: Float.self) }
                }
                return (entry.photo, values)
            }
    }

    @Test(.enabled(if: developmentSet != nil && weightsPresent, "needs ../shared/devset and the Lite2 weights (scripts/setup.sh)"),
          arguments: [(362, [1.0]), (512, CNNDescriptorConfiguration.multiScale)])
    func liteTwoThroughTheExtractionPathMatchesPyTorch(size: Int, scales: [Double]) throws {
        let directory = try #require(developmentSet)
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite2", size: size, scales: scales))
        #expect(extractor.dimension == 1280)
        let extraction = DescriptorExtraction(extractor: extractor)
        let expected = try references(network: "efficientnet-lite2", size: size, scaleCount: scales.count)
        #expect(expected.count == 3)
        for (photo, reference) in expected {
            let item = ExtractionItem(url: directory.appendingPathComponent("images/\(photo)"), name: photo)
            for threads in [1, 2] {
                let descriptor = try extraction.describe(item, threads: threads).get()
                #expect(descriptor.count == reference.count)
                let cosine = zip(descriptor, reference).reduce(0) { $0 + Double($1.0) * Double($1.1) }
                let difference = zip(descriptor, reference).map { abs($0 - $1) }.max() ?? .infinity
                #expect(cosine >= 0.9999, "\(photo) at \(size): cosine \(cosine)")
                #expect(difference <= 1e-4, "\(photo) at \(size): max difference \(difference)")
            }
        }
    }

    /// A 20000 × 50 panorama was refused ("too small: 512 × 1"); it is described at 12800 × 32 now.
    @Test(.enabled(if: weightsPresent, "needs the Lite2 weights (scripts/setup.sh)"))
    func panoramasAreDescribed() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        var panorama = RGBImage(width: 20000, height: 50, repeating: (90, 120, 200))
        for x in stride(from: 0, to: 20000, by: 40) {
            for y in 10 ..< 50 { panorama.pixels.replaceSubrange((y * 20000 + x) * 3 ..< (y * 20000 + x) * 3 + 30, with: repeatElement(UInt8(30), count: 30)) }
        }
        let url = temporary.path("panorama.png")
        try Data(try ImageEncoder.png(panorama)).write(to: url)
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite2", size: 512))
        let descriptor = try DescriptorExtraction(extractor: extractor).describe(ExtractionItem(url: url, name: "panorama.png")).get()
        #expect(descriptor.count == 1280)
        #expect(descriptor.allSatisfy { $0.isFinite })
    }

    @Test(.enabled(if: weightsPresent, "needs the Lite2 weights (scripts/setup.sh)"))
    func indexesStoreTheirCNNSpecAndQueriesUseIt() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let images = temporary.path("images")
        let entries = try makeSyntheticDataset(in: images, landmarks: 2, views: 2, distractors: 1)
        let extractor = try CNNGlobalDescriptor(CNNDescriptorConfiguration(model: "lite2", size: 128, pooling: .gem(p: 3)))
        _ = try IndexBuilder.build(images: images, index: temporary.path("index"), extractor: extractor)
        let index = try RetrievalIndex.open(temporary.path("index"))
        #expect(index.manifest.descriptor == "cnn model=lite2 size=128 scales=1 pooling=gem:3")
        #expect(index.extractor.dimension == 1280)
        let hits = try index.search(images: [images.appendingPathComponent(entries[0].relativePath)], top: 2)[0].get()
        #expect(hits.first?.image == entries[0].relativePath)
        #expect(abs((hits.first?.score ?? 0) - 1) < 1e-4)
    }
}
