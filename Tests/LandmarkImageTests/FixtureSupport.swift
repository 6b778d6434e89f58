import Foundation
import LandmarkImage
import Testing

/// One line of Fixtures/manifest.tsv, written by scripts/fixtures/image_make_fixtures.py.
struct FixtureEntry: Sendable, CustomTestStringConvertible {
    let kind: String
    let file: String
    let expected: String
    let width: Int
    let height: Int
    let tolerance: Int
    var testDescription: String { file }
}

enum Fixtures {
    static let root: URL = Bundle.module.url(forResource: "Fixtures", withExtension: nil)
        ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static let manifest: [FixtureEntry] = {
        guard let text = try? String(contentsOf: root.appendingPathComponent("manifest.tsv"), encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap { line -> FixtureEntry? in
            if line.hasPrefix("#") { return nil }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 6, let width = Int(fields[3]), let height = Int(fields[4]),
                  let tolerance = Int(fields[5]) else { return nil }
            return FixtureEntry(kind: fields[0], file: fields[1], expected: fields[2], width: width, height: height,
                                tolerance: tolerance)
        }
    }()

    static func entries(_ kind: String) -> [FixtureEntry] { manifest.filter { $0.kind == kind } }

    static func url(_ file: String) -> URL { root.appendingPathComponent(file) }

    static func bytes(_ file: String) -> [UInt8] {
        (try? Data(contentsOf: url(file))).map { [UInt8]($0) } ?? []
    }

    static func reference(_ entry: FixtureEntry, suffix: String = "") -> RGBImage? {
        let raw = bytes(entry.file + suffix)
        guard raw.count == entry.width * entry.height * 3 else { return nil }
        return RGBImage(width: entry.width, height: entry.height, pixels: raw)
    }
}

/// Per-channel absolute differences between two equally sized images.
struct PixelDifference {
    let maximum: Int
    let mean: Double
    let fractionOverOne: Double

    init(_ a: RGBImage, _ b: RGBImage) {
        precondition(a.pixels.count == b.pixels.count)
        var maximum = 0, total = 0, overOne = 0
        for index in 0..<a.pixels.count {
            let difference = abs(Int(a.pixels[index]) - Int(b.pixels[index]))
            maximum = max(maximum, difference)
            total += difference
            if difference > 1 { overOne += 1 }
        }
        self.maximum = maximum
        self.mean = a.pixels.isEmpty ? 0 : Double(total) / Double(a.pixels.count)
        self.fractionOverOne = a.pixels.isEmpty ? 0 : Double(overOne) / Double(a.pixels.count)
    }
}
