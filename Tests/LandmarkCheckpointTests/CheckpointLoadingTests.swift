import Foundation
import Testing
@testable import LandmarkCheckpoint
import LandmarkPickle

@Suite struct CheckpointLoadingTests {
    @Test func everyFixtureLoadsToTheValuesTorchReads() throws {
        let expected = try ExpectedCheckpoints.load()
        #expect(expected.checkpoints.count == 10)
        for fixture in expected.checkpoints {
            let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url(fixture.file))
            #expect(checkpoint.tensorNames == fixture.tensors.keys.sorted(), "\(fixture.file)")
            for (name, truth) in fixture.tensors {
                let tensor = try checkpoint.tensor(name, shape: truth.shape)
                // torch's Float32 values, written to JSON exactly: equality, no tolerance.
                #expect(tensor.values == truth.values.map { Float($0) }, "\(fixture.file): \(name)")
            }
            #expect(checkpoint.metadata.count == fixture.metadata.count, "\(fixture.file)")
            for (key, truth) in fixture.metadata {
                let value = try #require(checkpoint.metadata[key], "\(fixture.file): metadata \(key)")
                #expect(truth.matches(value), "\(fixture.file): metadata \(key) = \(value)")
            }
        }
    }

    @Test func cirtorchMetadataReadsAsTheNetworksNeedIt() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("checkpoint_cirtorch_zip.pth"))
        #expect(checkpoint.metadata["architecture"]?.text == "resnet50")
        #expect(checkpoint.metadata["pooling"]?.text == "gem")
        #expect(checkpoint.metadata["whitening"] == .bool(true))
        #expect(checkpoint.metadata["outputdim"] == .int(2048))
        #expect(checkpoint.metadata["mean"]?.doubles == [0.485, 0.456, 0.406])
        // The optimizer's state holds tensors too; it is neither a tensor of the network nor metadata.
        #expect(checkpoint.metadata["optimizer"] == nil)
        #expect(!checkpoint.tensorNames.contains { $0.hasPrefix("state") })
    }

    @Test func viewsOfOneStorageKeepTheirOffsetsAndStrides() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("checkpoint_bare_zip.pth"))
        let transposed = try checkpoint.tensor("fc.weight_transposed", shape: [6, 5])
        let expanded = try checkpoint.tensor("expanded", shape: [3, 4])
        for row in 0..<3 { #expect(Set(expanded.values[(row * 4)..<(row * 4 + 4)]).count == 1) }
        #expect(transposed.values.count == 30)
        #expect(try checkpoint.tensor("scalar", shape: []).values == [3.5])
        #expect(try checkpoint.tensor("empty", shape: [0, 3]).values.isEmpty)
        #expect(try checkpoint.tensor("features.1.num_batches_tracked").values == [7])
    }

    @Test func missingAndMisshapedTensorsNameTheProblem() throws {
        let checkpoint = try Checkpoint.load(contentsOf: Fixtures.url("checkpoint_cirtorch_legacy.pth"))
        #expect { try checkpoint.tensor("features.0.weights") } throws: { error in
            guard let error = error as? CheckpointError else { return false }
            return error.code == .missingTensor && error.reason.contains("'features.0.weights'")
                && error.reason.contains("features.0.weight,") && error.file.hasSuffix("checkpoint_cirtorch_legacy.pth")
        }
        #expect { try checkpoint.tensor("features.0.weight", shape: [4, 3, 5, 5]) } throws: { error in
            guard let error = error as? CheckpointError else { return false }
            return error.code == .shapeMismatch && error.reason.contains("[4, 3, 3, 3]") && error.reason.contains("[4, 3, 5, 5]")
        }
    }

    @Test func corruptFilesGiveTheirErrorCode() throws {
        let expected = try ExpectedCheckpoints.load()
        #expect(expected.corrupt.count >= 12)
        for fixture in expected.corrupt {
            let url = try Fixtures.url(fixture.file)
            do {
                _ = try Checkpoint.load(contentsOf: url)
                Issue.record("\(fixture.file) loaded; it should fail with \(fixture.code)")
            } catch {
                #expect(error.code == CheckpointError.Code(fixture.code), "\(fixture.file): \(error)")
            }
        }
        #expect { try Checkpoint.load(contentsOf: URL(fileURLWithPath: "/nonexistent/model.pth")) } throws: { error in
            (error as? CheckpointError)?.code == .unreadable
        }
    }

    /// Issue 14, 2: a changed byte inside a tensor's storage no longer loads silently as other weights.
    @Test func damagedZipEntryFailsItsChecksum() throws {
        var bytes = [UInt8](try Data(contentsOf: Fixtures.url("checkpoint_ordered_zip.pth")))
        // The first local header of a tensor storage (`…/data/<key>`), and the first byte of its data.
        var dataStart: Int?
        var position = 0
        while position + 30 <= bytes.count, dataStart == nil {
            if bytes[position ..< position + 4].elementsEqual([0x50, 0x4B, 0x03, 0x04]) {
                let nameLength = Int(bytes[position + 26]) | Int(bytes[position + 27]) << 8
                let extraLength = Int(bytes[position + 28]) | Int(bytes[position + 29]) << 8
                let name = String(decoding: bytes[position + 30 ..< position + 30 + nameLength], as: UTF8.self)
                // torch writes sizes in a data descriptor after the data; every storage here is non-empty.
                if name.hasSuffix("/data/0") { dataStart = position + 30 + nameLength + extraLength }
            }
            position += 1
        }
        let start = try #require(dataStart, "the fixture has a stored tensor entry")
        #expect((try? Checkpoint.decode(Data(bytes), file: "intact.pth")) != nil)
        bytes[start] ^= 0x01
        do {
            _ = try Checkpoint.decode(Data(bytes), file: "damaged.pth")
            Issue.record("a checkpoint with a changed storage byte must not load")
        } catch {
            #expect(error.code == .corrupt && error.reason.contains("CRC-32") && error.file == "damaged.pth", "\(error)")
        }
    }

    @Test func everyPrefixAndRandomCorruptionFailsWithoutCrashing() throws {
        for file in ["checkpoint_ordered_zip.pth", "checkpoint_ordered_legacy.pth", "checkpoint_tensors.safetensors"] {
            let bytes = try Data(contentsOf: Fixtures.url(file))
            var accepted: [Int] = []
            for length in 0..<bytes.count {
                if (try? Checkpoint.decode(bytes.prefix(length), file: file)) != nil { accepted.append(length) }
            }
            #expect(accepted.isEmpty, "\(file): prefixes of length \(accepted) decoded")

            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            func next() -> Int {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return Int(truncatingIfNeeded: state >> 33)
            }
            for _ in 0..<300 {
                var corrupted = [UInt8](bytes)
                for _ in 0..<(1 + next() % 4) { corrupted[next() % corrupted.count] = UInt8(truncatingIfNeeded: next()) }
                _ = try? Checkpoint.decode(Data(corrupted), file: file)
            }
        }
    }

    /// The real EfficientNet-Lite weights (legacy format, many non-contiguous tensors) where the model cache
    /// has them; the reference values are what torch.load read from the same files.
    @Test func efficientNetLiteWeightsLoadInTheLegacyFormat() throws {
        struct Reference: Decodable { var shape: [Int]; var first: [Double]; var sum: Double; var stride: [Int] }
        let references = try JSONDecoder().decode([String: [String: Reference]].self, from: Data(
            contentsOf: Fixtures.url("checkpoint_efficientnet_reference.json")))
        #expect(references.count == 2)
        for (file, tensors) in references {
            guard let url = Fixtures.cachedModel(file) else { continue } // not downloaded on this machine
            let checkpoint = try Checkpoint.load(contentsOf: url)
            for (name, reference) in tensors {
                if name == "__count__" { #expect(checkpoint.tensors.count == reference.shape[0]); continue }
                let tensor = try checkpoint.tensor(name, shape: reference.shape)
                #expect(Array(tensor.values.prefix(16)) == reference.first.map { Float($0) }, "\(file): \(name)")
                let sum = tensor.values.reduce(0.0) { $0 + Double($1) }
                // Summation order differs from torch's; the terms are exact, so only rounding of the sum.
                #expect(abs(sum - reference.sum) <= 1e-9 * max(1, abs(reference.sum)) * Double(tensor.values.count), "\(file): \(name)")
            }
            #expect(checkpoint.tensorNames.contains("_blocks.0._depthwise_conv.weight"))
        }
    }
}
