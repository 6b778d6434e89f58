import Foundation
import LandmarkLinearAlgebra
import Testing

enum Fixtures {
    static func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        let directory = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try JSONDecoder().decode(type, from: Data(contentsOf: directory.appendingPathComponent(name)))
    }
}

/// Unit-length copy of `vector`, in Double so hand computations carry no Float rounding of their own.
func normalised(_ vector: [Double]) -> [Double] {
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return vector.map { $0 / norm }
}

func normalisedFloat(_ vector: [Double]) -> [Float] { normalised(vector).map { Float($0) } }

func expectClose(_ actual: [Float], _ expected: [Double], tolerance: Double,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.count == expected.count, sourceLocation: sourceLocation)
    for (a, e) in zip(actual, expected) {
        #expect(abs(Double(a) - e) <= tolerance, "\(actual) vs \(expected)", sourceLocation: sourceLocation)
    }
}
