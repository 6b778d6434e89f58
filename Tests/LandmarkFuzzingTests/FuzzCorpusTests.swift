import Foundation
import LandmarkFuzzing
import Testing

/// Every committed fuzzing input (the seeds and each crasher the fuzzers found, after its fix) goes
/// through its target again: a regression crashes this test process.
@Suite struct FuzzCorpusTests {
    static let corpus = Bundle.module.resourceURL?.appendingPathComponent("Corpus")

    @Test(arguments: FuzzTarget.allCases)
    func committedInputsRunWithoutCrashing(target: FuzzTarget) throws {
        let folder = try #require(Self.corpus?.appendingPathComponent(target.rawValue))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(!files.isEmpty, "no inputs for \(target.rawValue)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-fuzz-test-\(target.rawValue)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: folder.appendingPathComponent(file)))
            target.run(bytes, scratch: scratch)
        }
    }
}
