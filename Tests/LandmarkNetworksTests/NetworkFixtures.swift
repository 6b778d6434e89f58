import Foundation
import LandmarkStorage
import LandmarkCheckpoint
import LandmarkImage
import LandmarkNetworks
import LandmarkPickle
import LandmarkTensor

/// Paths and readers for the fixtures of scripts/fixtures/networks_make_fixtures.py.
enum NetworkFixtures {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let devsetImages = packageRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/devset/images")
    static let modelCache: URL = CacheDirectory.root()

    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)
            ?? packageRoot.appendingPathComponent("Tests/LandmarkNetworksTests/Fixtures")
    }

    static var hasDevset: Bool { FileManager.default.fileExists(atPath: devsetImages.path) }

    static func efficientNetWeights(_ name: String) -> URL? {
        let url = modelCache.appendingPathComponent("models/efficientnet-\(name).pth")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    struct KeyList: Decodable {
        struct Entry: Decodable { var key: String; var shape: [Int] }
        var seed: String
        var tensors: [Entry]
    }

    /// The seeded state dict of `name` (e.g. "cirtorch_resnet50_gem"), rebuilt from its key list.
    static func seededCheckpoint(_ name: String, metadata: [String: PickleValue] = [:]) throws -> Checkpoint {
        let data = try Data(contentsOf: directory.appendingPathComponent("networks_keys_\(name).json"))
        let list = try JSONDecoder().decode(KeyList.self, from: data)
        let generator = SeededParameters(seed: UInt64(list.seed) ?? SeededParameters.fixtureSeed)
        var tensors: [String: CheckpointTensor] = [:]
        for entry in list.tensors {
            guard let values = generator.values(for: entry.key, shape: entry.shape) else {
                throw FixtureError(message: "no seeding rule for \(entry.key)")
            }
            tensors[entry.key] = CheckpointTensor(shape: entry.shape, values: values)
        }
        return Checkpoint(tensors: tensors, metadata: metadata, file: "seeded \(name)")
    }

    /// cirtorch's `meta` for a network made by `init_network` with these options.
    static func cirtorchMetadata(architecture: String, pooling: String, whitening: Bool = false) -> [String: PickleValue] {
        [
            "architecture": .string(architecture), "pooling": .string(pooling), "whitening": .bool(whitening),
            "regional": .bool(false), "local_whitening": .bool(false),
            "mean": .list([.float(0.485), .float(0.456), .float(0.406)]),
            "std": .list([.float(0.229), .float(0.224), .float(0.225)]), "outputdim": .int(2048),
        ]
    }

    struct DescriptorEntry: Decodable {
        var file: String
        var offset: Int
        var dim: Int
        var network: String
        var pooling: String
        var size: Int
        var scales: [Double]
        var msp: Double
        var photo: String
    }

    /// The reference descriptors with their values, loaded once.
    static let descriptors: [(entry: DescriptorEntry, values: [Float])] = {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("networks_descriptors.json")),
              let entries = try? JSONDecoder().decode([DescriptorEntry].self, from: data) else { return [] }
        var files: [String: [Float]] = [:]
        return entries.compactMap { entry in
            if files[entry.file] == nil {
                guard let bytes = try? Data(contentsOf: directory.appendingPathComponent(entry.file)) else { return nil }
                files[entry.file] = bytes.withUnsafeBytes { raw in
                    (0 ..< bytes.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
                }
            }
            guard let all = files[entry.file], entry.offset + entry.dim <= all.count else { return nil }
            return (entry, Array(all[entry.offset ..< entry.offset + entry.dim]))
        }
    }()

    /// cirtorch's input: PIL thumbnail to `size` (LANCZOS), ToTensor (÷255), Normalize((x − mean) / std).
    static func input(photo: String, size: Int, mean: [Float] = RetrievalHead.imageNetMean,
                      std: [Float] = RetrievalHead.imageNetStd, in folder: URL? = nil) throws -> FeatureMap {
        let image = try ImageDecoder.decode(contentsOf: (folder ?? devsetImages).appendingPathComponent(photo))
            .resized(longerSide: size)
        var map = FeatureMap(channels: 3, height: image.height, width: image.width)
        let plane = image.width * image.height
        for index in 0 ..< plane {
            for channel in 0 ..< 3 {
                let value = Float(image.pixels[index * 3 + channel]) / 255
                map.storage[channel * plane + index] = (value - mean[channel]) / std[channel]
            }
        }
        return map
    }

    struct FixtureError: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// Comparison figures between a descriptor and its reference.
struct DescriptorAgreement {
    var cosine: Double
    var maxDifference: Double

    init(_ a: [Float], _ b: [Float]) {
        precondition(a.count == b.count, "descriptors of different dimensions")
        var dot = 0.0, normA = 0.0, normB = 0.0, largest = 0.0
        for index in a.indices {
            let x = Double(a[index]), y = Double(b[index])
            dot += x * y
            normA += x * x
            normB += y * y
            largest = max(largest, abs(x - y))
        }
        cosine = dot / max((normA * normB).squareRoot(), .leastNormalMagnitude)
        maxDifference = largest
    }
}
