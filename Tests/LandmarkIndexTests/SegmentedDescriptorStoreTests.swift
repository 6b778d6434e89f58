import Foundation
import Testing
@_spi(Benchmarks) @testable import LandmarkIndex
import LandmarkLinearAlgebra

/// Segments with tombstones must read, and search, exactly like one matrix of their live rows —
/// across segment boundaries, through removed rows, in float32 and float16.
@Suite struct SegmentedDescriptorStoreTests {
    func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
        var random = SplitMix64(seed: seed)
        return Matrix(rows: rows, columns: columns, storage: (0 ..< rows * columns).map { _ in Float(random.nextUnit()) - 0.5 })
    }

    func makeSegments(_ directory: TemporaryDirectory, elementType: DescriptorElementType)
        throws -> (stores: [DescriptorStore], matrices: [Matrix]) {
        var stores: [DescriptorStore] = [], matrices: [Matrix] = []
        for (number, rows) in [37, 5, 20].enumerated() {
            let matrix = randomMatrix(rows: rows, columns: 24, seed: UInt64(number + 1))
            let url = directory.file("segment-\(number).lmd")
            try DescriptorStoreWriter.write(matrix, identifiers: (0 ..< rows).map { "s\(number)/\($0).jpg" },
                                            metadata: ["descriptor": "test"], elementType: elementType, to: url)
            stores.append(try DescriptorStore.open(url))
            matrices.append(elementType == .float16 ? try DescriptorStore.open(url).matrix() : matrix)
        }
        return (stores, matrices)
    }

    @Test(arguments: [DescriptorElementType.float32, .float16])
    func liveRowsReadAndSearchLikeOneMatrix(_ elementType: DescriptorElementType) throws {
        let directory = try TemporaryDirectory()
        let (stores, matrices) = try makeSegments(directory, elementType: elementType)
        let removed = [[0, 3, 4, 36], [0, 1, 2, 3, 4], [19]]
        let segmented = try SegmentedDescriptorStore(segments: stores, removedRows: removed)

        var expectedRows: [Float] = [], expectedIdentifiers: [String] = []
        for (number, (store, matrix)) in zip(stores, matrices).enumerated() {
            for row in 0 ..< store.count where !removed[number].contains(row) {
                expectedRows.append(contentsOf: matrix.row(row))
                expectedIdentifiers.append(store.identifiers[row])
            }
        }
        let expected = Matrix(rows: expectedIdentifiers.count, columns: 24, storage: expectedRows)
        #expect(segmented.count == 37 - 4 + 19)
        #expect(segmented.storedCount == 62 && segmented.liveRowOfStoredRow.filter { $0 < 0 }.count == 10)
        #expect(segmented.identifiers == expectedIdentifiers)
        #expect(segmented.matrix() == expected)
        let crossing = Matrix(rows: 10, columns: 24, storage: Array(expected.storage[30 * 24 ..< 40 * 24]))
        #expect(segmented.rows(30 ..< 40) == crossing)   // crosses the first boundary
        #expect(segmented.descriptor(at: 33) == expected.row(33))

        // Small blocks make every block boundary fall somewhere else in the runs.
        let queries = randomMatrix(rows: 6, columns: 24, seed: 99)
        var search = ExactSearch(rows: segmented.rows)
        search.blockRows = 7
        var reference = ExactSearch(database: expected)
        reference.blockRows = 7
        #expect(search.search(queries, k: 10) == reference.search(queries, k: 10))
    }

    @Test("an approximate index over the stored rows skips removed ones and numbers the rest as live rows")
    func approximateIndexOverStoredRows() throws {
        let directory = try TemporaryDirectory()
        let (stores, _) = try makeSegments(directory, elementType: .float32)
        // Remove most of the first segment, so the stored neighbours of its rows are mostly removed.
        let removed = [Array(0 ..< 30), [1], []]
        let segmented = try SegmentedDescriptorStore(segments: stores, removedRows: removed)
        let stored = try VectorIndexBuilder.build(.invertedFile(cells: 4, productQuantizerBytes: nil), rows: segmented.storedRows, progress: nil)
        let live = segmented.liveRows(of: stored)
        #expect(live.count == segmented.count && live is LiveRowsIndex)
        // Queries: removed rows themselves (their stored neighbours are removed) and live ones.
        let queries = segmented.storedRows.matrix(0 ..< 40)
        let exhaustive = SearchParameters(probes: 4)
        let found = live.search(queries, k: 12, parameters: exhaustive)
        let expected = FlatIndex(rows: segmented.rows).search(queries, k: 12)
        #expect(found.map { $0.map(\.index) } == expected.map { $0.map(\.index) })
        #expect(segmented.storedFingerprint == (try SegmentedDescriptorStore(segments: stores, removedRows: [[], [], []])).storedFingerprint)
    }

    @Test func fingerprintFollowsTheLiveRows() throws {
        let directory = try TemporaryDirectory()
        let (stores, _) = try makeSegments(directory, elementType: .float32)
        #expect(SegmentedDescriptorStore(stores[0]).fingerprint == stores[0].storedChecksum)
        #expect(try SegmentedDescriptorStore(segments: [stores[0]], removedRows: [[]]).fingerprint == stores[0].storedChecksum)
        let one = try SegmentedDescriptorStore(segments: stores, removedRows: [[1], [], []]).fingerprint
        let other = try SegmentedDescriptorStore(segments: stores, removedRows: [[2], [], []]).fingerprint
        let none = try SegmentedDescriptorStore(segments: stores, removedRows: [[], [], []]).fingerprint
        #expect(Set([one, other, none]).count == 3)
    }

    @Test func inconsistentSegmentsAreRefusedNamingTheFile() throws {
        let directory = try TemporaryDirectory()
        let (stores, _) = try makeSegments(directory, elementType: .float32)
        do {
            _ = try SegmentedDescriptorStore(segments: stores, removedRows: [[], [5], []])
            Issue.record("a removed row outside its segment must be refused")
        } catch {
            #expect(error.code == .corrupt && error.file == stores[1].path)
        }
        let other = directory.file("other.lmd")
        try DescriptorStoreWriter.write(randomMatrix(rows: 2, columns: 24, seed: 5), identifiers: ["a", "b"],
                                        metadata: ["descriptor": "another"], to: other)
        do {
            _ = try SegmentedDescriptorStore(segments: [stores[0], try DescriptorStore.open(other)], removedRows: [[], []])
            Issue.record("segments of another descriptor must be refused")
        } catch {
            #expect(error.code == .metadataMismatch && error.file == other.path)
        }
    }
}
