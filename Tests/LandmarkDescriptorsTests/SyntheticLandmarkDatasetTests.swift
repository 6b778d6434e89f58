import Foundation
import LandmarkDemo
import LandmarkImage
import Testing

@Suite struct SyntheticLandmarkDatasetTests {
    @Test func writesAFolderBenchmarkOfDecodableJPEGs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let configuration = SyntheticLandmarkDataset.Configuration(
            landmarkCount: 2, viewsPerLandmark: 3, distractorCount: 2, width: 96, height: 72, seed: 1)
        let entries = try SyntheticLandmarkDataset(configuration: configuration).write(to: directory)
        #expect(entries.count == 8)
        #expect(entries.filter { $0.landmark == nil }.count == 2)
        let tsv = try String(contentsOf: directory.appendingPathComponent("ground_truth.tsv"), encoding: .utf8)
        let lines = tsv.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.isEmpty }
        #expect(lines.first == "image\tlandmark")
        #expect(lines.count == 9)
        #expect(lines.last?.hasSuffix("\t") == true)
        for entry in entries {
            let image = try ImageDecoder.decode(contentsOf: directory.appendingPathComponent(entry.relativePath))
            #expect(image.width == 96 && image.height == 72)
        }
    }

    @Test func sameSeedSameImagesDifferentSeedDifferentImages() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("synthetic-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: base) }
        func render(seed: UInt64, into name: String) throws -> Data {
            let directory = base.appendingPathComponent(name)
            let configuration = SyntheticLandmarkDataset.Configuration(
                landmarkCount: 1, viewsPerLandmark: 2, distractorCount: 0, width: 64, height: 48, seed: seed)
            let entries = try SyntheticLandmarkDataset(configuration: configuration).write(to: directory)
            return try Data(contentsOf: directory.appendingPathComponent(entries[1].relativePath))
        }
        #expect(try render(seed: 5, into: "a") == render(seed: 5, into: "b"))
        #expect(try render(seed: 5, into: "c") != render(seed: 6, into: "d"))
    }
}
