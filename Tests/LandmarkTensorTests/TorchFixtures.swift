import Foundation
import LandmarkTensor

/// The cases `scripts/fixtures/tensor_make_fixtures.py` computed with torch 1.13.
struct TorchFixtures {
    struct ArrayLocation: Decodable {
        let offset: Int
        let count: Int
        let shape: [Int]
    }

    struct Case: Decodable {
        let name: String
        let kind: String
        let ints: [String: Int]
        let floats: [String: Double]
        let strings: [String: String]
        let arrays: [String: ArrayLocation]
    }

    private struct Index: Decodable {
        let cases: [Case]
    }

    let cases: [Case]
    private let values: [Float]

    static let shared: Result<TorchFixtures, any Error> = Result { try TorchFixtures() }

    private init() throws {
        guard let directory = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile)
        }
        let index = try JSONDecoder().decode(Index.self,
                                             from: Data(contentsOf: directory.appendingPathComponent("tensor_cases.json")))
        let blob = try Data(contentsOf: directory.appendingPathComponent("tensor_cases.bin"))
        values = blob.withUnsafeBytes { raw in
            (0 ..< blob.count / 4).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        cases = index.cases
    }

    func cases(_ kind: String) -> [Case] { cases.filter { $0.kind == kind } }

    func array(_ name: String, of fixture: Case) -> [Float]? {
        guard let location = fixture.arrays[name] else { return nil }
        return Array(values[location.offset ..< location.offset + location.count])
    }

    /// An NCHW (N = 1) or CHW array as a feature map.
    func map(_ name: String, of fixture: Case) -> FeatureMap? {
        guard let location = fixture.arrays[name], let storage = array(name, of: fixture) else { return nil }
        let shape = Array(location.shape.suffix(3))
        return FeatureMap(channels: shape[0], height: shape[1], width: shape[2], storage: storage)
    }
}

func maxAbsoluteDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).reduce(0) { max($0, abs($1.0 - $1.1)) }
}
