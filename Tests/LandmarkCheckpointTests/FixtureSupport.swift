import Foundation
import LandmarkStorage
import Testing
import LandmarkPickle

enum Fixtures {
    static var directory: URL {
        get throws { try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil)) }
    }

    static func url(_ name: String) throws -> URL { try directory.appendingPathComponent(name) }

    /// `<CacheDirectory.root()>/models/<name>`, present only where scripts/setup.sh ran.
    static func cachedModel(_ name: String) -> URL? {
        let url = CacheDirectory.root().appendingPathComponent("models").appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }
}

/// checkpoint_expected.json, written by scripts/fixtures/checkpoint_make_fixtures.py from what torch.load
/// reads back.
struct ExpectedCheckpoints: Decodable {
    struct Tensor: Decodable { var shape: [Int]; var values: [Double] }
    struct Checkpoint: Decodable { var file: String; var tensors: [String: Tensor]; var metadata: [String: JSONValue] }
    struct Corrupt: Decodable { var file: String; var code: String }
    var checkpoints: [Checkpoint]
    var corrupt: [Corrupt]

    static func load() throws -> ExpectedCheckpoints {
        try JSONDecoder().decode(ExpectedCheckpoints.self, from: Data(contentsOf: Fixtures.url("checkpoint_expected.json")))
    }
}

indirect enum JSONValue: Decodable {
    case bool(Bool), int(Int), double(Double), string(String), list([JSONValue])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else { self = .list(try container.decode([JSONValue].self)) }
    }

    func matches(_ value: PickleValue) -> Bool {
        switch (self, value) {
        case (.bool(let a), .bool(let b)): return a == b
        case (.int(let a), .int(let b)): return a == b
        case (.double(let a), .float(let b)): return a == b
        case (.string(let a), _): return value.text == a
        case (.list(let a), _):
            guard let items = value.items, items.count == a.count else { return false }
            return zip(a, items).allSatisfy { $0.matches($1) }
        default: return false
        }
    }
}
