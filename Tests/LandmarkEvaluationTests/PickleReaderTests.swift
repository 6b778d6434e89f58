import Foundation
import Testing
@testable import LandmarkEvaluation
import LandmarkPickle

/// gnd_*.pkl fixtures written by scripts/fixtures/evaluation_make_fixtures.py (Python 2 and 3, protocols 2
/// and 4, lists and numpy arrays) and the content Python itself unpickled from them.
private struct PickleFixture: Decodable {
    struct Content: Decodable, Equatable {
        struct Query: Decodable, Equatable { var bbx: [Double]; var easy: [Int]; var hard: [Int]; var junk: [Int] }
        var imlist: [String]
        var qimlist: [String]
        var gnd: [Query]
    }
    var content: Content
    var python2Content: Content?
    var files: [String]
}

@Suite struct PickleReaderTests {
    private func fixture() throws -> PickleFixture {
        try Fixtures.decode(PickleFixture.self, from: "evaluation_gnd_pickles.json")
    }

    @Test func readsEveryGroundTruthVariant() throws {
        let fixture = try fixture()
        #expect(fixture.files.count >= 5)
        for file in fixture.files {
            let value = try PickleReader.read(contentsOf: Fixtures.url(file))
            let dataset = try RevisitedDataset.parse(value, name: "test", directory: URL(fileURLWithPath: "/data"), file: file)
            let expected = file.contains("lists_python2") ? try #require(fixture.python2Content) : fixture.content
            #expect(dataset.imageNames == expected.imlist, "\(file)")
            #expect(dataset.queryNames == expected.qimlist, "\(file)")
            #expect(dataset.queries.count == expected.gnd.count, "\(file)")
            for (query, truth) in zip(dataset.queries, expected.gnd) {
                let box = query.boundingBox
                #expect([box.x0, box.y0, box.x1, box.y1] == truth.bbx, "\(file)")
                #expect(query.easy == truth.easy && query.hard == truth.hard && query.junk == truth.junk, "\(file)")
            }
        }
    }

    @Test func numpyArraysKeepTheirType() throws {
        let value = try PickleReader.read(contentsOf: Fixtures.url("gnd_numpy_p2.pkl"))
        let first = try #require(value["gnd"]?.items?.first)
        guard case .array(let easy)? = first["easy"] else { Issue.record("easy is not an array"); return }
        #expect(easy.shape == [3])
        guard case .array(let box)? = first["bbx"], case .floats = box.elements else { Issue.record("bbx is not a float array"); return }
    }

    @Test func everyTruncationIsAnErrorNotACrash() throws {
        for file in try fixture().files {
            let bytes = try [UInt8](Data(contentsOf: Fixtures.url(file)))
            var accepted: [Int] = []
            for length in 0..<bytes.count {
                do {
                    _ = try PickleReader.decode(Array(bytes[..<length]), file: file)
                    accepted.append(length)
                } catch {}
            }
            #expect(accepted.isEmpty, "\(file): prefixes of length \(accepted) decoded")
        }
    }

    @Test func corruptedBytesNeverCrash() throws {
        let bytes = try [UInt8](Data(contentsOf: Fixtures.url("gnd_numpy_python2.pkl")))
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(truncatingIfNeeded: state >> 33)
        }
        var failures = 0
        for _ in 0..<1000 {
            var corrupted = bytes
            for _ in 0..<(1 + next() % 4) { corrupted[next() % corrupted.count] = UInt8(truncatingIfNeeded: next()) }
            do { _ = try PickleReader.decode(corrupted) } catch { failures += 1 }
        }
        #expect(failures > 0)
        #expect(throws: DatasetError.self) { try PickleReader.decode(Array("garbage, not a pickle".utf8)) }
    }

    @Test func refusesCodeAndHostileStructures() {
        // cos\nsystem\n + ('echo',) REDUCE: what a malicious pickle does.
        let system: [UInt8] = [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x55, 0x04] + Array("echo".utf8) + [0x85, 0x52, 0x2E]
        #expect { try PickleReader.decode(system) } throws: { error in
            (error as? DatasetError)?.reason.contains("refusing to construct os.system") == true
        }
        // 200 nested lists exceed the depth limit.
        var nested: [UInt8] = [0x80, 0x02]
        for _ in 0..<200 { nested.append(0x5D) }
        for _ in 0..<199 { nested.append(0x61) }
        nested.append(0x2E)
        #expect(throws: DatasetError.self) { try PickleReader.decode(nested) }
        // A list that contains itself (memo reference) must not recurse forever.
        let cycle: [UInt8] = [0x80, 0x02, 0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]
        #expect(throws: DatasetError.self) { try PickleReader.decode(cycle) }
        // Unknown memo key, length beyond the data, negative BINSTRING length.
        #expect(throws: DatasetError.self) { try PickleReader.decode([0x80, 0x02, 0x68, 0x05, 0x2E]) }
        #expect(throws: DatasetError.self) { try PickleReader.decode([0x80, 0x04, 0x8D, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0x2E]) }
        #expect(throws: DatasetError.self) { try PickleReader.decode([0x80, 0x02, 0x54, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E]) }
    }

    @Test func decodesScalars() throws {
        // (True, None, -2, 2**40, 1.5, 'é') in protocol 2.
        let bytes: [UInt8] = [0x80, 0x02, 0x28, 0x88, 0x4E, 0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x8A, 0x06, 0, 0, 0, 0, 0, 1,
                              0x47, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0, 0x58, 2, 0, 0, 0, 0xC3, 0xA9, 0x74, 0x2E]
        #expect(try PickleReader.decode(bytes) == .tuple([.bool(true), .none, .int(-2), .int(1 << 40), .float(1.5), .string("é")]))
        #expect(try PickleReader.decode([0x80, 0x02, 0x8A, 0x01, 0xFF, 0x2E]) == .int(-1))
    }
}
