import Foundation
import LandmarkLinearAlgebra
import LandmarkStorage

/// The descriptors of an index that grows and shrinks without being rewritten: an ordered list of
/// append-only store files (segments), each with the rows that were removed from it (tombstones).
///
/// Adding images writes one new segment; removing them only records their rows. The live rows — in
/// segment order, tombstoned rows skipped — are what searches see, read in place from the maps, so
/// opening costs no copy however many segments there are. Compaction (rewriting the live rows into
/// one segment) is the builder's business; this type only reads.
public struct SegmentedDescriptorStore: Sendable {
    /// The segment files, in order.
    public let segments: [DescriptorStore]
    /// Rows of each segment that were removed, sorted and unique.
    public let removedRows: [[Int]]
    /// Identifiers of the live rows, in row order.
    public let identifiers: [String]
    /// The live rows, searched in place.
    public let rows: DatabaseRows
    /// Every stored row of every segment, removed ones included, in segment order. Approximate
    /// indexes are built over these, so that removing rows never renumbers them: they only grow.
    public let storedRows: DatabaseRows
    /// For each stored row, its live row, or -1 when it was removed.
    public let liveRowOfStoredRow: [Int32]

    /// Live rows.
    public var count: Int { identifiers.count }
    /// Rows in all segments, removed ones included.
    public var storedCount: Int { storedRows.count }
    public var dimension: Int { rows.dimension }
    /// The element type of the segments (they all share it).
    public var elementType: DescriptorElementType { segments.first?.elementType ?? .float32 }
    /// The metadata of the segments (they all share it).
    public var metadata: [String: String] { segments.first?.metadata ?? [:] }

    /// Combines segments and their tombstones.
    /// - Throws: `.dimensionMismatch`, `.elementTypeMismatch` or `.metadataMismatch` naming the
    ///   first segment that disagrees with the first one; `.corrupt` when a removed row is outside its
    ///   segment; `.countMismatch` when there are no segments or `removedRows` does not match them.
    public init(segments: [DescriptorStore], removedRows: [[Int]]) throws(DescriptorStoreError) {
        guard let first = segments.first, removedRows.count == segments.count else {
            throw DescriptorStoreError(code: .countMismatch, file: segments.first?.path ?? "",
                                       reason: "\(segments.count) segments but \(removedRows.count) tombstone lists")
        }
        var runs: [DatabaseRows.Run] = [], storedRuns: [DatabaseRows.Run] = []
        var identifiers: [String] = []
        var liveRowOfStoredRow: [Int32] = []
        var sortedRemovals: [[Int]] = []
        for (segment, removed) in zip(segments, removedRows) {
            try segment.checkJoinable(with: first)
            let sorted = Array(Set(removed)).sorted()
            if let outside = sorted.first(where: { $0 < 0 || $0 >= segment.count }) {
                throw DescriptorStoreError(code: .corrupt, file: segment.path,
                                           reason: "removed row \(outside) is outside the segment's \(segment.count) rows")
            }
            sortedRemovals.append(sorted)
            storedRuns.append(.init(store: segment, first: 0, start: liveRowOfStoredRow.count, count: segment.count))
            var next = 0
            for row in sorted + [segment.count] {
                if row > next {
                    runs.append(.init(store: segment, first: next, start: identifiers.count, count: row - next))
                    liveRowOfStoredRow.append(contentsOf: (identifiers.count ..< identifiers.count + row - next).map { Int32($0) })
                    identifiers.append(contentsOf: segment.identifiers[next ..< row])
                }
                if row < segment.count { liveRowOfStoredRow.append(-1) }
                next = row + 1
            }
        }
        self.segments = segments
        self.removedRows = sortedRemovals
        self.identifiers = identifiers
        self.rows = DatabaseRows(runs: runs, stores: segments, dimension: first.dimension)
        self.storedRows = DatabaseRows(runs: storedRuns, stores: segments, dimension: first.dimension)
        self.liveRowOfStoredRow = liveRowOfStoredRow
    }

    /// One segment and nothing removed: an index that was never updated in place.
    public init(_ store: DescriptorStore) {
        segments = [store]
        removedRows = [[]]
        identifiers = store.identifiers
        rows = DatabaseRows(store)
        storedRows = rows
        liveRowOfStoredRow = (0 ..< store.count).map { Int32($0) }
    }

    /// A checksum of exactly what the live rows are: each segment's recorded CRC-32 and the removed
    /// rows. Files derived from the rows (an approximate index) record it and are recognised as stale
    /// after any change. For a single segment with nothing removed it is that segment's own checksum,
    /// so indexes made before segments existed stay valid.
    public var fingerprint: UInt32 {
        if segments.count == 1, removedRows[0].isEmpty { return segments[0].storedChecksum }
        var checksum = CRC32()
        for (segment, removed) in zip(segments, removedRows) {
            var words = [UInt64(segment.storedChecksum), UInt64(segment.count), UInt64(removed.count)]
            words.append(contentsOf: removed.map { UInt64($0) })
            words.withUnsafeBytes { checksum.update($0) }
        }
        return checksum.value
    }

    /// A checksum of the stored rows alone — the segments' recorded CRC-32s, not the removed rows:
    /// what an approximate index over `storedRows` is tied to, so that removals leave it valid. For a
    /// single segment it is that segment's own checksum.
    public var storedFingerprint: UInt32 {
        if segments.count == 1 { return segments[0].storedChecksum }
        var checksum = CRC32()
        for segment in segments {
            [UInt64(segment.storedChecksum), UInt64(segment.count)].withUnsafeBytes { checksum.update($0) }
        }
        return checksum.value
    }

    /// The index `factory` names over these descriptors, searched by live row: exact search over the
    /// live rows, or the approximate index saved at `url` (built over `storedRows`), which skips the
    /// removed rows. `VectorIndexBuilder.load`'s errors.
    public func vectorIndex(_ factory: IndexFactory, savedAt url: URL) throws(VectorIndexError) -> any VectorIndex {
        if factory.isExact { return FlatIndex(rows: rows) }
        let stored = try VectorIndexBuilder.load(contentsOf: url, factory: factory, rows: storedRows, storeChecksum: storedFingerprint)
        return liveRows(of: stored)
    }

    /// `index` (over `storedRows`) searched by live row.
    public func liveRows(of index: any VectorIndex) -> any VectorIndex {
        storedCount == count ? index : LiveRowsIndex(stored: index, liveRowOfStoredRow: liveRowOfStoredRow, liveCount: count)
    }

    /// Live descriptor `index` as Float32.
    public func descriptor(at index: Int) -> [Float] {
        precondition(index >= 0 && index < count, "Descriptor \(index) out of range 0..<\(count)")
        return rows.row(index)
    }

    /// Live descriptors in `range` as a Float32 matrix.
    public func rows(_ range: Range<Int>) -> Matrix { rows.matrix(range) }

    /// Every live descriptor as one Float32 matrix (one row per descriptor).
    public func matrix() -> Matrix { rows.matrix() }

    /// Recomputes every segment's CRC-32 (reading every byte once).
    /// - Throws: `.checksumMismatch` naming the first damaged segment.
    public func verifyChecksums() throws(DescriptorStoreError) {
        for segment in segments { try segment.verifyChecksum() }
    }

    /// Size of all segment files in bytes.
    public var fileSize: Int { segments.reduce(0) { $0 + $1.fileSize } }
}
