import Foundation
import LandmarkLinearAlgebra
import Testing

/// The golden outputs of scripts/fixtures/descriptors_make_fixtures.py (cirtorch on CPU).
struct DescriptorsReference: Decodable {
    struct ArrayEntry: Decodable {
        let name: String
        let shape: [Int]
        let offset: Int
    }

    struct PoolingOutput: Decodable {
        let raw: String
        let l2n: String
    }

    struct PoolingCase: Decodable {
        let name: String
        let shape: [Int]
        let input: String
        let outputs: [String: PoolingOutput]
    }

    struct MultiScaleCase: Decodable {
        let exponent: Float
        let inputs: String
        let output: String
    }

    struct RegionGrid: Decodable {
        let file: String
        /// [H, W, count, first region]
        let cases: [[Int]]
    }

    struct Applied: Decodable {
        let train: String
        let test: String
    }

    struct WhiteningKind: Decodable {
        let mean: String
        let projection: String
        let applied: [String: Applied]
    }

    struct WhiteningCase: Decodable {
        let descriptors: String
        let test: String
        let queryIndices: [Int]
        let positiveIndices: [Int]
        let kinds: [String: WhiteningKind]
    }

    let arrays: [ArrayEntry]
    let pooling: [PoolingCase]
    let multiscale: [MultiScaleCase]
    let regionGrid: RegionGrid
    let whitening: WhiteningCase
}

struct ReferenceData {
    let manifest: DescriptorsReference
    private let values: [Float]
    private let entries: [String: DescriptorsReference.ArrayEntry]

    static let directory: URL? = Bundle.module.url(forResource: "Fixtures", withExtension: nil)

    static func load() throws -> ReferenceData {
        let directory = try #require(directory)
        let manifest = try JSONDecoder().decode(
            DescriptorsReference.self, from: Data(contentsOf: directory.appendingPathComponent("descriptors_reference.json")))
        let data = try Data(contentsOf: directory.appendingPathComponent("descriptors_reference.bin"))
        let values = data.withUnsafeBytes { raw in
            (0 ..< data.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        return ReferenceData(manifest: manifest, values: values,
                             entries: Dictionary(uniqueKeysWithValues: manifest.arrays.map { ($0.name, $0) }))
    }

    func shape(_ name: String) throws -> [Int] { try #require(entries[name]).shape }

    func array(_ name: String) throws -> [Float] {
        let entry = try #require(entries[name], "no fixture array \(name)")
        let count = entry.shape.reduce(1, *)
        return Array(values[entry.offset ..< entry.offset + count])
    }

    func matrix(_ name: String) throws -> Matrix {
        let shape = try shape(name)
        try #require(shape.count == 2)
        return Matrix(rows: shape[0], columns: shape[1], storage: try array(name))
    }

    func regionGrid() throws -> [Int16] {
        let directory = try #require(Self.directory)
        let data = try Data(contentsOf: directory.appendingPathComponent(manifest.regionGrid.file))
        return data.withUnsafeBytes { raw in
            (0 ..< data.count / 2).map { Int16(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 2, as: Int16.self)) }
        }
    }
}

func maximumAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
