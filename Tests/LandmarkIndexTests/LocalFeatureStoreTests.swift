import Foundation
import Testing
@testable import LandmarkIndex

/// Deterministic pseudo-random features: positions with fractional parts, sizes and angles over their
/// full ranges, descriptor bytes covering 0…255.
private func sampleRecord(_ identifier: String, count: Int, seed: Int, dimension: Int = 128) -> LocalFeatureRecord {
    let keypoints = (0 ..< count).map { index in
        let value = Float((index * 7919 + seed * 104_729) % 100_003)
        return StoredKeypoint(x: value * 0.0103 + 0.37, y: value * 0.0071 + 0.11,
                              size: 1.5 + Float(index % 97) * 1.37, angle: Float((index * 37 + seed) % 3600) * 0.1)
    }
    let descriptors = (0 ..< count * dimension).map { UInt8(truncatingIfNeeded: $0 * 31 + seed * 17 + ($0 >> 7)) }
    return LocalFeatureRecord(identifier: identifier, imageWidth: 1024, imageHeight: 683 + seed,
                              keypoints: keypoints, descriptors: descriptors)
}

private func expectLocalStoreError(_ code: DescriptorStoreError.Code, _ url: URL, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        _ = try LocalFeatureStore.open(url)
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.file == url.path, sourceLocation: sourceLocation)
    }
}

@Suite struct LocalFeatureStoreTests {
    @Test func roundTripsKeypointsDescriptorsAndEmptyImages() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("local.lmf")
        let records = [sampleRecord("a.jpg", count: 5, seed: 1), sampleRecord("empty.png", count: 0, seed: 2),
                       sampleRecord("sub/ü c.jpg", count: 33, seed: 3)]
        try LocalFeatureStoreWriter.write(records, metadata: ["extractor": "sift"], to: url)
        let store = try LocalFeatureStore.open(url)
        #expect(store.imageCount == 3)
        #expect(store.featureCount == 38)
        #expect(store.dimension == 128)
        #expect(store.identifiers == ["a.jpg", "empty.png", "sub/ü c.jpg"])
        #expect(store.metadata == ["extractor": "sift"])
        #expect(store.byteCount % 64 == 0)
        for (index, original) in records.enumerated() {
            let loaded = store.record(at: index)
            #expect(loaded.identifier == original.identifier)
            #expect(loaded.imageWidth == original.imageWidth && loaded.imageHeight == original.imageHeight)
            #expect(loaded.descriptors == original.descriptors)
            #expect(loaded.keypoints.map(\.x) == original.keypoints.map(\.x))
            #expect(loaded.keypoints.map(\.y) == original.keypoints.map(\.y))
            for (stored, exact) in zip(loaded.keypoints, original.keypoints) {
                // Float16: 11 significant bits.
                #expect(abs(stored.size - exact.size) <= exact.size / 2048)
                #expect(abs(stored.angle - exact.angle) <= 0.125 + 1e-4)
            }
        }
        #expect(store.record(at: 1).count == 0)
        #expect(store.featureCount(ofImage: 2) == 33)
    }

    @Test func aStoreWithoutImagesRoundTrips() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("none.lmf")
        try LocalFeatureStoreWriter.write([], metadata: [:], to: url)
        let store = try LocalFeatureStore.open(url)
        #expect(store.imageCount == 0 && store.featureCount == 0)
    }

    @Test func largeCountsRoundTripAndAssembleCopiesBlocks() throws {
        let directory = try TemporaryDirectory()
        let records = (0 ..< 40).map { sampleRecord("image-\($0).jpg", count: 500 + $0 * 13, seed: $0) }
        let first = directory.file("shard-0.lmf"), second = directory.file("shard-1.lmf")
        try LocalFeatureStoreWriter.write(Array(records[..<25]), metadata: ["k": "v"], to: first)
        try LocalFeatureStoreWriter.write(Array(records[25...]), metadata: ["k": "v"], to: second)
        let shards = [try LocalFeatureStore.open(first), try LocalFeatureStore.open(second)]
        // Reverse order across both shards.
        let selection = (0 ..< 40).reversed().map { index in
            index < 25 ? (store: shards[0], image: index) : (store: shards[1], image: index - 25)
        }
        let merged = directory.file("merged.lmf")
        try LocalFeatureStoreWriter.assemble(selection, metadata: ["k": "v"], to: merged)
        let store = try LocalFeatureStore.open(merged)
        #expect(store.featureCount == records.reduce(0) { $0 + $1.count })
        #expect(store.identifiers == records.reversed().map(\.identifier))
        for (index, original) in records.reversed().enumerated() {
            let loaded = store.record(at: index)
            #expect(loaded.descriptors == original.descriptors)
            #expect(loaded.keypoints.map(\.x) == original.keypoints.map(\.x))
        }
        // The same content written directly gives the same bytes.
        let direct = directory.file("direct.lmf")
        try LocalFeatureStoreWriter.write(records.reversed(), metadata: ["k": "v"], to: direct)
        #expect(try Data(contentsOf: direct) == Data(contentsOf: merged))
        // No temporary files are left behind.
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
        #expect(names.sorted() == ["direct.lmf", "merged.lmf", "shard-0.lmf", "shard-1.lmf"])
    }

    @Test func everyTruncationIsReported() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("full.lmf")
        try LocalFeatureStoreWriter.write([sampleRecord("a", count: 3, seed: 1), sampleRecord("b", count: 0, seed: 0),
                                           sampleRecord("c", count: 2, seed: 5)], metadata: ["m": "1"], to: url)
        let bytes = try Data(contentsOf: url)
        let damaged = directory.file("damaged.lmf")
        for length in 0 ..< bytes.count {
            try bytes.prefix(length).write(to: damaged)
            expectLocalStoreError(.truncated, damaged)
        }
        try (bytes + [0]).write(to: damaged)
        expectLocalStoreError(.corrupt, damaged)
    }

    @Test func everyFlippedByteIsDetected() throws {
        let directory = try TemporaryDirectory()
        let url = directory.file("full.lmf")
        try LocalFeatureStoreWriter.write([sampleRecord("one", count: 4, seed: 1), sampleRecord("two", count: 0, seed: 2)],
                                          metadata: ["extractor": "test"], to: url)
        let bytes = try Data(contentsOf: url)
        let damaged = directory.file("damaged.lmf")
        var codes: Set<DescriptorStoreError.Code> = []
        for position in 0 ..< bytes.count {
            var copy = bytes
            copy[position] ^= 0x10
            try copy.write(to: damaged)
            do {
                _ = try LocalFeatureStore.open(damaged)
                Issue.record("flipping byte \(position) went unnoticed")
            } catch {
                codes.insert(error.code)
                if position < 8 { #expect(error.code == .badMagic) }
                if (8 ..< 12).contains(position) { #expect(error.code == .unsupportedVersion) }
                // Descriptors and keypoints (past the 64-byte table of two images).
                if position >= bytes.count - LocalFeatureStoreFormat.blockSize(features: 4, dimension: 128) {
                    #expect(error.code == .checksumMismatch)
                }
            }
        }
        #expect(codes.isSuperset(of: [.badMagic, .unsupportedVersion, .checksumMismatch, .corrupt]))
        // Without verification a flipped descriptor byte is accepted: the check is what catches it.
        var copy = bytes
        copy[bytes.count - 100] ^= 0x10
        try copy.write(to: damaged)
        #expect(throws: Never.self) { _ = try LocalFeatureStore.open(damaged, verifyChecksum: false) }
    }

    @Test func foreignFilesAndBadRecordsAreRefused() throws {
        let directory = try TemporaryDirectory()
        let descriptorStore = directory.file("global.lmd")
        try DescriptorStoreWriter.write(.init(rows: 1, columns: 2, storage: [1, 0]), identifiers: ["x"], metadata: [:],
                                        to: descriptorStore)
        expectLocalStoreError(.badMagic, descriptorStore)
        expectLocalStoreError(.notFound, directory.file("missing.lmf"))
        var bad = sampleRecord("x", count: 2, seed: 0)
        bad.descriptors.removeLast()
        #expect(throws: DescriptorStoreError.self) {
            try LocalFeatureStoreWriter.write([bad], metadata: [:], to: directory.file("bad.lmf"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("bad.lmf").path))
    }
}
