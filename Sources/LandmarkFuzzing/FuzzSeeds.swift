import Foundation
import LandmarkDescriptors
import LandmarkImage
import LandmarkIndex
import LandmarkLinearAlgebra
import LandmarkPickle
import LandmarkPipeline

/// Valid inputs for every target, written by the project's own writers: libFuzzer mutates from these,
/// so that it starts inside each format instead of having to discover its magic and checksums.
public enum FuzzSeeds {
    /// Writes `DIRECTORY/<target>/seed-N` files.
    public static func write(to directory: URL) throws {
        for target in FuzzTarget.allCases {
            let folder = directory.appendingPathComponent(target.rawValue)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            for (number, bytes) in try seeds(for: target, scratch: folder).enumerated() {
                try Data(bytes).write(to: folder.appendingPathComponent("seed-\(number)"))
            }
        }
    }

    static func seeds(for target: FuzzTarget, scratch: URL) throws -> [[UInt8]] {
        let file = scratch.appendingPathComponent("writer.tmp")
        defer { try? FileManager.default.removeItem(at: file) }
        func written(_ write: (URL) throws -> Void) throws -> [UInt8] {
            try write(file)
            return [UInt8](try Data(contentsOf: file))
        }
        let rows = Matrix(rows: 3, columns: 8, storage: (0 ..< 24).map { Float($0 % 5) / 5 })
        switch target {
        case .pickle:
            let value = PickleValue.dictionary([
                PickleDictionaryEntry(key: .string("imlist"), value: .list([.string("a"), .string("b")])),
                PickleDictionaryEntry(key: .string("gnd"), value: .list([.dictionary([
                    PickleDictionaryEntry(key: .string("easy"), value: .list([.int(0), .int(1)])),
                    PickleDictionaryEntry(key: .string("bbx"), value: .tuple([.float(1.5), .float(2), .float(30), .float(40)])),
                ])])),
            ])
            return [try PickleEncoder.encode(value), try PickleEncoder.encode(.list([.none, .bool(true), .bytes([1, 2, 3])]))]
        case .checkpoint:
            // The checkpoint fixtures (zip, legacy, safetensors) are added by scripts/fuzz.sh; this one
            // is a minimal safetensors file.
            let header = Array(#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#.utf8)
            var length = UInt64(header.count).littleEndian
            let prefix = withUnsafeBytes(of: &length) { Array($0) }
            return [prefix + header + [0, 0, 128, 63, 0, 0, 0, 64]]
        case .descriptorStore:
            return [
                try written { try DescriptorStoreWriter.write(rows, identifiers: ["a.jpg", "b/c.jpg", "d.png"], metadata: ["descriptor": "baseline"], to: $0) },
                try written { try DescriptorStoreWriter.write(rows, identifiers: ["a", "b", "c"], metadata: [:], elementType: .float16, to: $0) },
            ]
        case .localFeatureStore:
            let records = (0 ..< 2).map { image in
                LocalFeatureRecord(identifier: "image\(image).jpg", imageWidth: 64, imageHeight: 48,
                                   keypoints: (0 ..< 3).map { StoredKeypoint(x: Float($0), y: Float(image), size: 2, angle: 90) },
                                   descriptors: (0 ..< 3 * 128).map { UInt8(($0 + image) % 251) })
            }
            return [try written { try LocalFeatureStoreWriter.write(records, metadata: ["local": "rootsift"], to: $0) }]
        case .asmkVocabulary:
            return [try written { try VisualVocabulary(centroids: rows).write(to: $0) }]
        case .asmkIndex:
            var index = ASMKIndex(vocabulary: VisualVocabulary(centroids: rows))
            _ = index.add(imageDescriptors: Matrix(rows: 2, columns: 8, storage: (0 ..< 16).map { Float($0) / 16 }))
            _ = index.add(imageDescriptors: Matrix(rows: 1, columns: 8, storage: (0 ..< 8).map { Float(8 - $0) / 8 }))
            index.prepareForSearch()
            return [try written { try index.write(to: $0) }]
        case .manifest:
            let baseline = GradientColourHistogramBaseline()
            let manifest = IndexManifest(descriptor: baseline.name, dimension: baseline.dimension, imageRoot: "/tmp/photos", count: 2)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return [Array(try encoder.encode(manifest))]
        case .folderBenchmark:
            return [Array("image\tlandmark\na.jpg\tbridge\nb.jpg\tbridge\nsub/c.png\t\nd.jpg\ttower\n".utf8)]
        case .gldv2CSV:
            return [Array("id,url,landmark_id\n0a1b2c3d4e5f6789,http://x/a.jpg,17\n1111222233334444,,17\n".utf8),
                    Array("id,landmarks,Usage\n0a1b2c3d4e5f6789,17 4,Public\n1111222233334444,,Private\n".utf8)]
        case .imageDecoding:
            var image = RGBImage(width: 16, height: 12, repeating: (20, 40, 60))
            for index in image.pixels.indices { image.pixels[index] = UInt8((index * 7) % 256) }
            return [try ImageEncoder.jpeg(image), try ImageEncoder.png(image)]
        }
    }
}
