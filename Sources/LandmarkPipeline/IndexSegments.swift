import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra

/// One descriptor file of an index updated in place, with the rows removed from it since it was
/// written (tombstones).
public struct IndexSegment: Sendable, Codable, Equatable {
    /// File name inside the index directory.
    public var file: String
    /// Rows in the file, removed ones included.
    public var rows: Int
    /// Rows of the file that are no longer part of the index, sorted.
    public var removedRows: [Int]

    public init(file: String, rows: Int, removedRows: [Int] = []) {
        self.file = file
        self.rows = rows
        self.removedRows = removedRows
    }
}

extension IndexManifest {
    /// The manifest's segments, or the single store of an index never updated in place.
    public var descriptorSegments: [IndexSegment] {
        segments ?? [IndexSegment(file: IndexLayout.storeFileName, rows: count)]
    }
}

/// Updates in place (METHODS.md §10, incremental indexing): how an index's descriptors are kept as
/// append-only segments with tombstones, opened, extended and compacted.
///
/// The manifest is the commit point. New rows go to a new segment file, written durably under a name
/// no manifest refers to yet; removals only change the manifest's tombstones; a compaction writes the
/// live rows to a new segment too. Only once the manifest naming the new files is durably in place
/// are files it no longer names deleted, so a kill at any moment leaves the old index or the new one,
/// and the files of an unfinished update are recognised (by name, not referenced) and removed.
public enum IndexSegments {
    /// More segments than this are compacted into one, so that a search never crosses many files.
    public static let maximumSegments = 8
    /// When removed rows would exceed this share of all stored rows, the index is compacted, so that
    /// dead rows never cost more than a third of the live ones in disk space and search time.
    public static let maximumRemovedFraction = 0.25

    /// Opens the descriptor segments the manifest lists, checksumming those up to `checksumLimit`
    /// bytes (larger ones are verified by `landmark check`).
    /// - Throws: `.invalidIndex` naming the file: a name outside the directory, a damaged or missing
    ///   segment, counts or a descriptor that disagree with the manifest.
    public static func open(_ directory: URL, manifest: IndexManifest,
                            checksumLimit: Int = RetrievalIndex.checksumOnOpenLimit) throws(PipelineError) -> SegmentedDescriptorStore {
        let manifestPath = directory.appendingPathComponent(IndexManifest.fileName).path
        var stores: [DescriptorStore] = []
        let segments = manifest.descriptorSegments
        guard !segments.isEmpty else {
            throw PipelineError(code: .invalidIndex, file: manifestPath, reason: "lists no descriptor segments — rebuild the index")
        }
        for segment in segments {
            guard IndexLayout.isPlainFileName(segment.file) else {
                throw PipelineError(code: .invalidIndex, file: manifestPath,
                                    reason: "names '\(segment.file)', which is not a file of the index directory — rebuild the index")
            }
            let url = directory.appendingPathComponent(segment.file)
            let store: DescriptorStore
            do {
                store = try DescriptorStore.open(url, verifyChecksum: false)
                if store.fileSize <= checksumLimit { try store.verifyChecksum() }
            } catch {
                throw PipelineError(code: .invalidIndex, file: url.path, reason: error.reason)
            }
            guard store.count == segment.rows, store.dimension == manifest.dimension else {
                let live = manifest.segments == nil ? manifest.count : segment.rows
                throw PipelineError(code: .invalidIndex, file: url.path,
                                    reason: "store holds \(store.count) × \(store.dimension) descriptors but the manifest says \(live) × \(manifest.dimension)")
            }
            // The store names the descriptor that made it; a manifest edited to another one would
            // describe queries differently from the index and rank wrongly.
            if let made = store.metadata[IndexLayout.descriptorMetadataKey], made != manifest.descriptor {
                throw PipelineError(code: .invalidIndex, file: manifestPath,
                                    reason: "says descriptor '\(manifest.descriptor)' but \(segment.file) was made with '\(made)' — rebuild the index or restore the manifest")
            }
            stores.append(store)
        }
        let combined: SegmentedDescriptorStore
        do {
            combined = try SegmentedDescriptorStore(segments: stores, removedRows: segments.map(\.removedRows))
        } catch {
            throw PipelineError(code: .invalidIndex, file: error.file, reason: error.reason)
        }
        guard combined.count == manifest.count else {
            throw PipelineError(code: .invalidIndex, file: manifestPath,
                                reason: "counts \(manifest.count) images but its segments hold \(combined.count) live rows — rebuild the index")
        }
        return combined
    }

    /// What `write` did, for the approximate index and the local part that follow it.
    struct Outcome {
        /// The segments for the manifest (nil: the single `descriptors.lmd`).
        var segments: [IndexSegment]?
        /// The live descriptors after the update, in their row order.
        var store: SegmentedDescriptorStore
        /// The previous index's stored rows, which are the first stored rows of the new one after an
        /// update in place; nil when the rows were rewritten (a fresh build or a compaction).
        var previousStored: (count: Int, fingerprint: UInt32)?
        /// Bytes of descriptor files written.
        var bytesWritten: Int
    }

    /// Brings the descriptors up to `indexed` (sorted paths): appends the new ones as a segment and
    /// tombstones the removed ones, or — for a first build, a change of storage type, `compact`, or
    /// when the segments or dead rows pass their limits — writes every live row to one new file in
    /// path order. The manifest is not touched; the caller commits it and then calls
    /// `removeUnreferenced`.
    /// - Parameters:
    ///   - previous: the index's current segments and their store, when it has a manifest.
    ///   - known: descriptors of images not in `previous` (from this run's checkpoints).
    ///   - replacing: images of `previous` whose descriptors in `known` replace the stored ones (their
    ///     old rows are tombstoned and they are added again).
    static func write(indexed: [String], previous: (segments: [IndexSegment], store: SegmentedDescriptorStore)?,
                      known: [String: [Float]], replacing: Set<String> = [], dimension: Int, descriptorName: String, elementType: DescriptorElementType,
                      compact: Bool, in directory: URL) throws(PipelineError) -> Outcome {
        func vectors(_ names: [String], previousRows: [String: Int]) -> Matrix {
            var matrix = Matrix(rows: names.count, columns: dimension)
            guard dimension > 0 else { return matrix }
            for (position, name) in names.enumerated() {
                let vector = known[name] ?? previousRows[name].map { previous?.store.descriptor(at: $0) ?? [] } ?? []
                precondition(vector.count == dimension, "no descriptor for \(name)")
                matrix.storage.replaceSubrange(position * dimension ..< (position + 1) * dimension, with: vector)
            }
            return matrix
        }
        func writeSegment(_ names: [String], previousRows: [String: Int], to name: String) throws(PipelineError) -> SegmentedDescriptorStore {
            let url = directory.appendingPathComponent(name)
            try IndexBuilder.writeStore(vectors(names, previousRows: previousRows), identifiers: names,
                                        descriptorName: descriptorName, elementType: elementType, to: url)
            do {
                return SegmentedDescriptorStore(try DescriptorStore.open(url))
            } catch {
                throw PipelineError(code: .invalidIndex, file: url.path, reason: error.reason)
            }
        }
        guard let previous else {
            let store = try writeSegment(indexed, previousRows: [:], to: IndexLayout.storeFileName)
            return Outcome(segments: nil, store: store, previousStored: nil, bytesWritten: store.fileSize)
        }
        let indexedSet = Set(indexed)
        let liveSet = Set(previous.store.identifiers)
        let added = indexed.filter { !liveSet.contains($0) || replacing.contains($0) }
        let nextName = IndexLayout.segmentPrefix + String(format: "%06d", nextSegmentNumber(previous.segments)) + ".lmd"

        // Tombstones: each previous segment's removed rows plus the rows of images no longer indexed.
        var segments: [IndexSegment] = []
        var stores: [DescriptorStore] = []
        for (segment, store) in zip(previous.segments, previous.store.segments) {
            var removed = Set(segment.removedRows)
            for (row, identifier) in store.identifiers.enumerated()
            where !indexedSet.contains(identifier) || replacing.contains(identifier) { removed.insert(row) }
            // A segment with nothing left stays until a compaction: its rows keep their numbers.
            segments.append(IndexSegment(file: segment.file, rows: segment.rows, removedRows: removed.sorted()))
            stores.append(store)
        }
        let removedCount = segments.reduce(0) { $0 + $1.removedRows.count }
        let storedCount = segments.reduce(0) { $0 + $1.rows } + added.count
        let mustCompact = compact || previous.store.elementType != elementType
            || segments.count + (added.isEmpty ? 0 : 1) > maximumSegments
            || Double(removedCount) > maximumRemovedFraction * Double(storedCount)
        if mustCompact {
            var previousRows: [String: Int] = [:]
            for (row, identifier) in previous.store.identifiers.enumerated() { previousRows[identifier] = row }
            let store = try writeSegment(indexed, previousRows: previousRows, to: nextName)
            return Outcome(segments: [IndexSegment(file: nextName, rows: indexed.count)], store: store,
                           previousStored: nil, bytesWritten: store.fileSize)
        }
        var bytesWritten = 0
        if !added.isEmpty {
            let segment = try writeSegment(added, previousRows: [:], to: nextName)
            bytesWritten = segment.fileSize
            segments.append(IndexSegment(file: nextName, rows: added.count))
            stores.append(segment.segments[0])
        }
        let store: SegmentedDescriptorStore
        do {
            store = try SegmentedDescriptorStore(segments: stores, removedRows: segments.map(\.removedRows))
        } catch {
            throw PipelineError(code: .invalidIndex, file: error.file, reason: error.reason)
        }
        let unchanged = segments.count == 1 && segments[0] == IndexSegment(file: IndexLayout.storeFileName, rows: store.count)
        return Outcome(segments: unchanged ? nil : segments, store: store,
                       previousStored: (previous.store.storedCount, previous.store.storedFingerprint), bytesWritten: bytesWritten)
    }

    /// The number after the highest segment number in use (1 for an index never updated).
    static func nextSegmentNumber(_ segments: [IndexSegment]) -> Int {
        (segments.compactMap { segmentNumber($0.file) }.max() ?? 0) + 1
    }

    static func segmentNumber(_ name: String) -> Int? {
        guard name.hasPrefix(IndexLayout.segmentPrefix), name.hasSuffix(".lmd") else { return nil }
        let digits = name.dropFirst(IndexLayout.segmentPrefix.count).dropLast(4)
        guard digits.count == 6, digits.allSatisfy(\.isASCII), let number = Int(digits) else { return nil }
        return number
    }

    /// Deletes the descriptor files this builder made that `segments` no longer names: segments of a
    /// compaction or of an unfinished update, and `descriptors.lmd` once a compaction replaced it —
    /// and the additions files of the search index other than the one for `storedFingerprint` (all of
    /// them when nil). Nothing else in the directory is touched.
    static func removeUnreferenced(in directory: URL, keeping segments: [IndexSegment], storedFingerprint: UInt32?) {
        VectorIndexBuilder.removeAdditions(of: directory.appendingPathComponent(IndexLayout.vectorIndexFileName),
                                           keeping: storedFingerprint)
        let kept = Set(segments.map(\.file))
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where !kept.contains(name) && (segmentNumber(name) != nil || name == IndexLayout.storeFileName) {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }
}
