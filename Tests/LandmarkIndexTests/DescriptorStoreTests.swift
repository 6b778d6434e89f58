import Foundation
import Testing
@testable import LandmarkIndex
import LandmarkLinearAlgebra

/// A fresh empty directory per test, removed afterwards.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("landmark-index-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    func file(_ name: String) -> URL { url.appendingPathComponent(name) }
}

private func sampleMatrix(rows: Int, columns: Int, offset: Float = 0) -> Matrix {
    Matrix(rows: rows, columns: columns, storage: (0 ..< rows * columns).map { Float($0) * 0.25 - 3 + offset })
}

private func expectStoreError(_ code: DescriptorStoreError.Code, _ url: URL, sourceLocation: SourceLocation = #_sourceLocation,
                              _ body: () throws(DescriptorStoreError) -> Void) {
    do {
        try body()
        Issue.record("expected \(code), got success", sourceLocation: sourceLocation)
    } catch {
        #expect(error.code == code, "\(error)", sourceLocation: sourceLocation)
        #expect(error.file == url.path, sourceLocation: sourceLocation)
    }
}

@Test func float32StoreRoundTrips() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("index.lmkdesc")
    let descriptors = sampleMatrix(rows: 5, columns: 3)
    let identifiers = ["a.jpg", "dir/b.png", "ünïcode ✓.jpg", "", "e"]
    let metadata = ["descriptor": "baseline-gem", "image-size": "1024"]
    try DescriptorStoreWriter.write(descriptors, identifiers: identifiers, metadata: metadata, to: url)
    let store = try DescriptorStore.open(url)
    #expect(store.dimension == 3 && store.count == 5 && store.elementType == .float32)
    #expect(store.identifiers == identifiers)
    #expect(store.metadata == metadata)
    #expect(store.matrix() == descriptors)
    #expect(store.descriptor(at: 4) == descriptors.row(4))
    #expect(store.rows(1 ..< 3) == Matrix(rows: 2, columns: 3, storage: Array(descriptors.storage[3 ..< 9])))
    #expect(store.header.payloadOffset % 64 == 0)
    // Only the destination remains: the temporary file was renamed, not left behind.
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path) == ["index.lmkdesc"])
}

@Test func float16StoreRoundsToHalfPrecision() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("half.lmkdesc")
    let descriptors = Matrix(rowVectors: [[0.1, -0.2, 0.3], [1, 2, 3]])
    try DescriptorStoreWriter.write(descriptors, identifiers: ["x", "y"], metadata: [:], elementType: .float16, to: url)
    let store = try DescriptorStore.open(url)
    #expect(store.elementType == .float16)
    #expect(store.matrix().storage == fromFloat16(toFloat16(descriptors.storage)))
    let attributes = try FileManager.default.attributesOfItem(atPath: url.path)
    #expect((attributes[.size] as? Int) == store.header.payloadOffset + 2 * 3 * 2)
}

@Test func emptyStoreRoundTrips() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("empty.lmkdesc")
    try DescriptorStoreWriter.write(Matrix(rows: 0, columns: 8), identifiers: [], metadata: ["k": "v"], to: url)
    let store = try DescriptorStore.open(url)
    #expect(store.count == 0 && store.dimension == 8 && store.metadata == ["k": "v"])
    #expect(store.matrix() == Matrix(rows: 0, columns: 8))
}

@Test func everyTruncationIsReported() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("full.lmkdesc")
    try DescriptorStoreWriter.write(sampleMatrix(rows: 3, columns: 4), identifiers: ["a", "b", "c"], metadata: ["m": "1"], to: url)
    let bytes = try Data(contentsOf: url)
    let damaged = directory.file("damaged.lmkdesc")
    for length in 0 ..< bytes.count {
        try bytes.prefix(length).write(to: damaged)
        expectStoreError(.truncated, damaged) { () throws(DescriptorStoreError) in _ = try DescriptorStore.open(damaged) }
    }
    try (bytes + [0]).write(to: damaged)
    expectStoreError(.corrupt, damaged) { () throws(DescriptorStoreError) in _ = try DescriptorStore.open(damaged) }
}

@Test func everyFlippedByteIsDetected() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("full.lmkdesc")
    try DescriptorStoreWriter.write(sampleMatrix(rows: 3, columns: 5), identifiers: ["one", "two", "three"],
                                    metadata: ["descriptor": "test"], elementType: .float16, to: url)
    let bytes = try Data(contentsOf: url)
    let damaged = directory.file("damaged.lmkdesc")
    var codes: Set<DescriptorStoreError.Code> = []
    for position in 0 ..< bytes.count {
        var copy = bytes
        copy[position] ^= 0x10
        try copy.write(to: damaged)
        do {
            _ = try DescriptorStore.open(damaged)
            Issue.record("flipping byte \(position) went unnoticed")
        } catch {
            codes.insert(error.code)
            if position < 8 { #expect(error.code == .badMagic) }
            if (8 ..< 12).contains(position) { #expect(error.code == .unsupportedVersion) }
            if position >= store(bytes).payloadOffset { #expect(error.code == .checksumMismatch) }
        }
    }
    #expect(codes.isSuperset(of: [.badMagic, .unsupportedVersion, .checksumMismatch, .unsupportedElementType]))
    // Without verification a flipped payload byte is accepted: the check is what catches it.
    var copy = bytes
    copy[bytes.count - 1] ^= 0x10
    try copy.write(to: damaged)
    #expect(throws: Never.self) { _ = try DescriptorStore.open(damaged, verifyChecksum: false) }
}

/// The header of an intact store's bytes.
private func store(_ bytes: Data) -> DescriptorStoreFormat.Header {
    let metadataLength = bytes[32 ..< 40].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    let identifiersLength = bytes[40 ..< 48].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
    return DescriptorStoreFormat.Header(elementType: .float16, dimension: 0, count: 0,
                                        metadataLength: metadataLength, identifiersLength: identifiersLength)
}

@Test func openReportsMissingFileForeignFileAndWrongDimension() throws {
    let directory = try TemporaryDirectory()
    let missing = directory.file("missing.lmkdesc")
    expectStoreError(.notFound, missing) { () throws(DescriptorStoreError) in _ = try DescriptorStore.open(missing) }
    let foreign = directory.file("foreign.jpg")
    try Data(repeating: 0xFF, count: 200).write(to: foreign)
    expectStoreError(.badMagic, foreign) { () throws(DescriptorStoreError) in _ = try DescriptorStore.open(foreign) }
    let url = directory.file("index.lmkdesc")
    try DescriptorStoreWriter.write(sampleMatrix(rows: 2, columns: 4), identifiers: ["a", "b"], metadata: [:], to: url)
    expectStoreError(.dimensionMismatch, url) { () throws(DescriptorStoreError) in
        _ = try DescriptorStore.open(url, expectedDimension: 8)
    }
    var bytes = try Data(contentsOf: url)
    bytes[8] = 2  // version 2
    try bytes.write(to: url)
    expectStoreError(.unsupportedVersion, url) { () throws(DescriptorStoreError) in _ = try DescriptorStore.open(url) }
}

@Test func writeRejectsMismatchedIdentifiers() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("index.lmkdesc")
    expectStoreError(.countMismatch, url) { () throws(DescriptorStoreError) in
        try DescriptorStoreWriter.write(sampleMatrix(rows: 2, columns: 4), identifiers: ["a"], metadata: [:], to: url)
    }
    #expect(try FileManager.default.contentsOfDirectory(atPath: directory.url.path).isEmpty)
}

@Test func mergeConcatenatesShardsInOrder() throws {
    let directory = try TemporaryDirectory()
    let first = directory.file("0.lmkdesc"), second = directory.file("1.lmkdesc"), merged = directory.file("all.lmkdesc")
    let a = sampleMatrix(rows: 2, columns: 3), b = sampleMatrix(rows: 3, columns: 3, offset: 100)
    try DescriptorStoreWriter.write(a, identifiers: ["a0", "a1"], metadata: ["d": "x"], to: first)
    try DescriptorStoreWriter.write(b, identifiers: ["b0", "b1", "b2"], metadata: ["d": "x"], to: second)
    try DescriptorStoreWriter.merge([second, first], into: merged)
    let store = try DescriptorStore.open(merged)
    #expect(store.identifiers == ["b0", "b1", "b2", "a0", "a1"])
    #expect(store.matrix().storage == b.storage + a.storage)
    #expect(store.metadata == ["d": "x"])

    let wide = directory.file("wide.lmkdesc"), half = directory.file("half.lmkdesc"), other = directory.file("other.lmkdesc")
    try DescriptorStoreWriter.write(sampleMatrix(rows: 1, columns: 4), identifiers: ["w"], metadata: ["d": "x"], to: wide)
    try DescriptorStoreWriter.write(a, identifiers: ["h0", "h1"], metadata: ["d": "x"], elementType: .float16, to: half)
    try DescriptorStoreWriter.write(a, identifiers: ["o0", "o1"], metadata: ["d": "y"], to: other)
    expectStoreError(.dimensionMismatch, wide) { () throws(DescriptorStoreError) in try DescriptorStoreWriter.merge([first, wide], into: merged) }
    expectStoreError(.elementTypeMismatch, half) { () throws(DescriptorStoreError) in try DescriptorStoreWriter.merge([first, half], into: merged) }
    expectStoreError(.metadataMismatch, other) { () throws(DescriptorStoreError) in try DescriptorStoreWriter.merge([first, other], into: merged) }
    // A failed merge leaves the previous result intact.
    #expect(try DescriptorStore.open(merged).count == 5)
}

@Test func appendAddsRowsAndKeepsOldMappingsReadable() throws {
    let directory = try TemporaryDirectory()
    let url = directory.file("index.lmkdesc")
    let a = sampleMatrix(rows: 2, columns: 3), b = sampleMatrix(rows: 1, columns: 3, offset: 50)
    try DescriptorStoreWriter.write(a, identifiers: ["a0", "a1"], metadata: ["d": "x"], elementType: .float16, to: url)
    let before = try DescriptorStore.open(url)
    try DescriptorStoreWriter.append(b, identifiers: ["b0"], to: url)
    let after = try DescriptorStore.open(url)
    #expect(after.identifiers == ["a0", "a1", "b0"])
    #expect(after.elementType == .float16 && after.metadata == ["d": "x"])
    #expect(after.matrix().storage == fromFloat16(toFloat16(a.storage + b.storage)))
    // The rename replaced the directory entry; the earlier mapping still sees the old file.
    #expect(before.count == 2 && before.matrix().storage == fromFloat16(toFloat16(a.storage)))
    expectStoreError(.dimensionMismatch, url) { () throws(DescriptorStoreError) in
        try DescriptorStoreWriter.append(sampleMatrix(rows: 1, columns: 4), identifiers: ["c"], to: url)
    }
}
