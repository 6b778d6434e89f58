import Foundation
import LandmarkCheckpoint
import LandmarkNetworks
import Testing

@Suite struct SeededParametersTests {
    struct Samples: Decodable {
        struct Sample: Decodable { var key: String; var shape: [Int]; var first: [UInt32]; var sum: Double }
        var seed: String
        var fnv1a64_features_0_weight: String
        var samples: [Sample]
    }

    /// The Swift generator reproduces the Python one bit for bit (first values) and in bulk (sums).
    @Test func matchesThePythonGenerator() throws {
        let data = try Data(contentsOf: NetworkFixtures.directory.appendingPathComponent("networks_seeded_samples.json"))
        let samples = try JSONDecoder().decode(Samples.self, from: data)
        #expect(UInt64(samples.seed) == SeededParameters.fixtureSeed)
        #expect(String(SeededParameters.fnv1a64("features.0.weight")) == samples.fnv1a64_features_0_weight)
        let generator = SeededParameters()
        for sample in samples.samples {
            let values = try #require(generator.values(for: sample.key, shape: sample.shape), "\(sample.key)")
            #expect(values.prefix(16).map(\.bitPattern) == sample.first, "\(sample.key)")
            let sum = values.reduce(0.0) { $0 + Double($1) }
            #expect(abs(sum - sample.sum) <= 1e-9 * max(1, abs(sample.sum)), "\(sample.key)")
        }
    }

    @Test func valuesFollowTheTensorRoles() throws {
        let generator = SeededParameters()
        let uniform = generator.uniform(for: "x", count: 10_000)
        #expect(uniform.allSatisfy { $0 >= -1 && $0 < 1 })
        #expect(uniform.min()! < -0.99 && uniform.max()! > 0.99)
        let variance = try #require(generator.values(for: "features.1.running_var", shape: [64]))
        #expect(variance.allSatisfy { $0 >= 0.5 && $0 <= 1.5 })
        let lastScale = try #require(generator.values(for: "features.4.0.bn3.weight", shape: [256]))
        #expect(lastScale.allSatisfy { $0 >= 0.05 && $0 <= 0.15 })
        #expect(generator.values(for: "pool.p", shape: [1]) == [3])
        #expect(generator.values(for: "something.else", shape: [3]) == nil)
        #expect(SeededParameters(seed: 1).uniform(for: "x", count: 4) != SeededParameters(seed: 2).uniform(for: "x", count: 4))
    }

    /// The .pth the fixture script saved (in /tmp, never committed) holds exactly the generated values:
    /// the checkpoint loader, the generator and torch agree on every tensor.
    static func savedCheckpoint(_ architecture: String) -> URL {
        URL(fileURLWithPath: "/tmp/landmark-cirtorch-\(architecture)-gem-seeded.pth")
    }

    @Test(.enabled(if: ["resnet50", "resnet101"].allSatisfy { FileManager.default.fileExists(atPath: savedCheckpoint($0).path) },
                   "needs the .pth files scripts/fixtures/networks_make_fixtures.py saves in /tmp"),
          arguments: ["resnet50", "resnet101"])
    func savedCheckpointHoldsTheGeneratedTensors(architecture: String) throws {
        let url = Self.savedCheckpoint(architecture)
        let saved = try Checkpoint.load(contentsOf: url)
        let rebuilt = try NetworkFixtures.seededCheckpoint("cirtorch_\(architecture)_gem")
        #expect(Set(saved.tensors.keys) == Set(rebuilt.tensors.keys))
        for (name, tensor) in rebuilt.tensors {
            #expect(saved.tensors[name] == tensor, "\(name)")
        }
        #expect(saved.metadata["architecture"]?.text == architecture)
        #expect(saved.metadata["pooling"]?.text == "gem")
        // The loader reads the architecture and the head from the real file's 'meta'.
        #expect(try NetworkLoader.backbone(from: saved).architecture == architecture)
        let head = try NetworkLoader.retrievalHead(from: saved)
        #expect(head.pooling == "gem" && head.gemP == 3 && head.whitening == nil && !head.regional)
        #expect(head.mean == RetrievalHead.imageNetMean && head.std == RetrievalHead.imageNetStd)
    }
}
