import Foundation
import Testing
import LandmarkPickle

/// The generic decoder on pickles Python wrote (checkpoint_pickles.json, from
/// scripts/fixtures/checkpoint_make_fixtures.py): plain data in protocols 0–5, and the symbolic forms of
/// calls, BUILD and persistent ids.
@Suite struct PickleDecoderTests {
    private struct Pickles: Decodable { var plain: [String]; var symbolic: [String]; var persistent: [String] }

    private func pickles() throws -> Pickles {
        try JSONDecoder().decode(Pickles.self, from: Data(contentsOf: Fixtures.url("checkpoint_pickles.json")))
    }

    private func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            result.append(UInt8(hex[index..<next], radix: 16) ?? 0)
            index = next
        }
        return result
    }

    private func entry(_ key: String, _ value: PickleValue) -> PickleDictionaryEntry { PickleDictionaryEntry(key: .string(key), value: value) }

    @Test func plainDataDecodesAlikeInEveryProtocol() throws {
        let expected = PickleValue.dictionary([
            entry("int", .int(-5)), entry("big", .int(1 << 40)), entry("float", .float(1.5)), entry("text", .string("é\n\\x")),
            entry("bytes", .bytes([0x00, 0xFF, 0x27, 0x22])), entry("list", .list([.int(1), .none, .bool(true), .bool(false)])),
            entry("tuple", .tuple([.int(1), .int(2), .int(3)])), entry("nested", .dictionary([entry("x", .list([]))])),
            entry("od", .dictionary([entry("k", .int(1))])),
        ])
        let plain = try pickles().plain
        #expect(plain.count == 6)
        for (version, hex) in plain.enumerated() {
            let value = try PickleDecoder.decode(bytes(hex)).resolvingNumpyArrays()
            #expect(value == expected, "protocol \(version)")
        }
    }

    @Test func callsAndBuildStaySymbolic() throws {
        for (index, hex) in try pickles().symbolic.enumerated() {
            let value = try PickleDecoder.decode(bytes(hex))
            let items = try #require(value.items, "pickle \(index)")
            #expect(items.first == .call(callable: .global(module: "__builtin__", name: "complex"), arguments: [.float(1), .float(2)]))
            guard case .build(.call(let callable, let arguments), let state)? = items.last else {
                Issue.record("pickle \(index): \(String(describing: items.last)) is not a built call")
                continue
            }
            #expect(state == .dictionary([entry("a", .int(1))]))
            let thing = PickleValue.global(module: "__main__", name: "Thing")
            #expect(callable == thing || (callable == .global(module: "copy_reg", name: "_reconstructor") && arguments.first == thing))
            // Interpreting it as plain data refuses the constructor instead of running it.
            #expect(throws: PickleError.self) { try value.resolvingNumpyArrays() }
        }
    }

    @Test func persistentIDsAreKeptForTheConsumer() throws {
        let persistent = try pickles().persistent
        #expect(try PickleDecoder.decode(bytes(persistent[0])) == .list([.persistentID(.string("ref0")), .int(7)]))
        #expect(try PickleDecoder.decode(bytes(persistent[1]))
            == .list([.persistentID(.tuple([.string("storage"), .string("k"), .int(3)])), .int(7)]))
    }

    @Test func decodesPicklesBackToBackAndReportsWhereEachEnds() throws {
        let first: [UInt8] = [0x80, 0x02, 0x4B, 0x05, 0x2E]
        let second: [UInt8] = [0x80, 0x02, 0x88, 0x2E]
        let joined = first + second + [0xFF]
        let result = joined.withUnsafeBytes { buffer in
            Result { () throws(PickleError) -> [PickleValue] in
                let (a, end) = try PickleDecoder.decode(buffer, from: 0, file: "joined")
                let (b, _) = try PickleDecoder.decode(buffer, from: end, file: "joined")
                return [a, b]
            }
        }
        #expect(try result.get() == [.int(5), .bool(true)])
    }

    @Test func errorsCarryACode() {
        #expect { try PickleDecoder.decode([0x80, 0x02, 0x4B]) } throws: { ($0 as? PickleError)?.code == .truncated }
        #expect { try PickleDecoder.decode([0x80, 0x02, 0xFE, 0x2E]) } throws: { ($0 as? PickleError)?.code == .malformed }
        #expect { try PickleDecoder.decode(Array("V\\u12\n.".utf8)) } throws: { ($0 as? PickleError)?.code == .malformed }
        #expect { try PickleDecoder.decode(Array("S'unterminated\n.".utf8)) } throws: { ($0 as? PickleError)?.code == .malformed }
        var nested: [UInt8] = [0x80, 0x02]
        for _ in 0..<200 { nested.append(0x5D) }
        for _ in 0..<199 { nested.append(0x61) }
        nested.append(0x2E)
        #expect { try PickleDecoder.decode(nested) } throws: { ($0 as? PickleError)?.code == .limitExceeded }
    }
}
