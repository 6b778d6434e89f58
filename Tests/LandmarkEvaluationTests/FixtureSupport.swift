import Foundation
import Testing

enum Fixtures {
    static var directory: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        }
    }

    static func url(_ name: String) throws -> URL { try directory.appendingPathComponent(name) }

    static func decode<T: Decodable>(_ type: T.Type, from name: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(contentsOf: url(name)))
    }

    /// `<package root>/../shared/devset`, present only on development machines.
    static var devset: URL? {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let devset = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/devset")
        return FileManager.default.fileExists(atPath: devset.appendingPathComponent("ground_truth.tsv").path) ? devset : nil
    }

    /// A fresh empty directory under the system temporary directory.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-evaluation-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Equal within `tolerance`, or both NaN (the reference's marker for queries without positives).
func close(_ a: Double, _ b: Double?, tolerance: Double = 1e-6) -> Bool {
    guard let b else { return a.isNaN }
    return abs(a - b) <= tolerance
}
