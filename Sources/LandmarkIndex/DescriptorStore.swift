#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LandmarkLinearAlgebra

/// A read-only, memory-mapped view of one descriptor store file (format in
/// `DescriptorStoreFormat`). Opening validates the header, the section lengths against the file
/// size and — by default — the checksum; descriptors are then read straight from the mapping,
/// so opening a large index costs no copy.
public struct DescriptorStore: Sendable {
    let file: MappedFile
    let header: DescriptorStoreFormat.Header
    /// Image ids or relative paths, one per descriptor, in descriptor order.
    public let identifiers: [String]
    /// Free-form key/values stored with the descriptors, e.g. `"descriptor": "baseline-…"`.
    public let metadata: [String: String]

    /// Components per descriptor.
    public var dimension: Int { header.dimension }
    /// Number of descriptors.
    public var count: Int { header.count }
    public var elementType: DescriptorElementType { header.elementType }
    /// Path of the mapped file.
    public var path: String { file.path }

    /// Maps and validates the store at `url`.
    /// - Parameters:
    ///   - verifyChecksum: recompute the CRC-32 over the whole file (reads every byte once).
    ///   - expectedDimension: when given, a store of another dimension is rejected with
    ///     `.dimensionMismatch` (e.g. an index built with a different descriptor).
    /// - Throws: `DescriptorStoreError` naming the file: `.notFound`, `.badMagic`,
    ///   `.unsupportedVersion`, `.unsupportedElementType`, `.truncated`, `.corrupt`,
    ///   `.checksumMismatch`, `.dimensionMismatch` or `.io`.
    public static func open(_ url: URL, verifyChecksum: Bool = true,
                            expectedDimension: Int? = nil) throws(DescriptorStoreError) -> DescriptorStore {
        let path = url.path
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func failure(_ code: DescriptorStoreError.Code, _ reason: String) -> DescriptorStoreError {
            DescriptorStoreError(code: code, file: path, reason: reason)
        }
        let raw = try StoreFileSections.readHeader(bytes, magic: DescriptorStoreFormat.magic,
                                                   version: DescriptorStoreFormat.version, kind: "descriptor store",
                                                   failure: failure)
        guard let elementType = DescriptorElementType(rawValue: raw.word) else {
            throw failure(.unsupportedElementType, "unknown element type code \(raw.word)")
        }
        // Bound every header field before arithmetic so a corrupt header cannot overflow.
        let limit = UInt64(bytes.count)
        let fields = raw.fields
        guard fields.allSatisfy({ $0 <= UInt64(Int32.max) * 64 }) else {
            throw failure(.corrupt, "header fields are out of range")
        }
        let header = DescriptorStoreFormat.Header(
            elementType: elementType, dimension: Int(fields[0]), count: Int(fields[1]),
            metadataLength: Int(fields[2]), identifiersLength: Int(fields[3]))
        let (components, overflow) = header.count.multipliedReportingOverflow(by: header.dimension)
        guard !overflow, components <= Int(limit) else {
            throw failure(.truncated, "header announces \(header.count) × \(header.dimension) components, more than the file holds")
        }
        guard Int(fields[4]) == header.payloadOffset else {
            throw failure(.corrupt, "payload offset \(fields[4]) disagrees with the section lengths")
        }
        guard bytes.count >= header.fileSize else {
            throw failure(.truncated, "file has \(bytes.count) bytes, the header announces \(header.fileSize)")
        }
        guard bytes.count == header.fileSize else {
            throw failure(.corrupt, "file has \(bytes.count - header.fileSize) unexpected trailing bytes")
        }
        if verifyChecksum { try StoreFileSections.verifyChecksum(bytes, failure: failure) }
        if let expectedDimension, expectedDimension != header.dimension {
            throw failure(.dimensionMismatch, "descriptors have dimension \(header.dimension), expected \(expectedDimension)")
        }

        let (metadata, identifiers) = try StoreFileSections.readMetadataAndIdentifiers(
            bytes, metadataLength: header.metadataLength, identifiersLength: header.identifiersLength,
            count: header.count, failure: failure)
        return DescriptorStore(file: file, header: header, identifiers: identifiers, metadata: metadata)
    }

    /// The CRC-32 recorded in the header when the file was written. Files derived from the store (an
    /// approximate index) record it, so that they are recognised as stale after the store changes.
    public var storedChecksum: UInt32 {
        UInt32(truncatingIfNeeded: StoreFileSections.uint64(file.bytes, at: StoreFileSections.checksumOffset))
    }

    /// Checks that this store's rows can follow `first`'s in one sequence (a merge, the segments of
    /// an index): same dimension, element type and metadata.
    /// - Throws: `.dimensionMismatch`, `.elementTypeMismatch` or `.metadataMismatch` naming this file.
    public func checkJoinable(with first: DescriptorStore) throws(DescriptorStoreError) {
        if dimension != first.dimension {
            throw DescriptorStoreError(code: .dimensionMismatch, file: path, reason: "dimension \(dimension), but \(first.path) has \(first.dimension)")
        }
        if elementType != first.elementType {
            throw DescriptorStoreError(code: .elementTypeMismatch, file: path,
                                       reason: "element type \(elementType), but \(first.path) has \(first.elementType)")
        }
        if metadata != first.metadata {
            throw DescriptorStoreError(code: .metadataMismatch, file: path,
                                       reason: "metadata \(metadata) differs from \(first.metadata) in \(first.path)")
        }
    }

    /// Size of the file in bytes.
    public var fileSize: Int { file.bytes.count }

    /// Recomputes the CRC-32 over the whole file (reading every byte once) and compares it with the
    /// stored one; for stores opened without verification, e.g. by `landmark check`.
    /// - Throws: `.checksumMismatch` naming the file.
    public func verifyChecksum() throws(DescriptorStoreError) {
        let path = file.path
        try StoreFileSections.verifyChecksum(file.bytes) { code, reason in
            DescriptorStoreError(code: code, file: path, reason: reason)
        }
    }

    /// The raw payload bytes (count × dimension × element size), row-major.
    var payload: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[header.payloadOffset ..< header.fileSize])
    }

    /// Descriptor `index` as Float32.
    public func descriptor(at index: Int) -> [Float] {
        precondition(index >= 0 && index < count, "Descriptor \(index) out of range 0..<\(count)")
        var result = [Float](repeating: 0, count: dimension)
        result.withUnsafeMutableBufferPointer { decodeRows(index ..< index + 1, into: $0) }
        return result
    }

    /// Every descriptor as one Float32 matrix (one row per descriptor).
    public func matrix() -> Matrix {
        rows(0 ..< count)
    }

    /// Descriptors in `range` as a Float32 matrix.
    public func rows(_ range: Range<Int>) -> Matrix {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Row range out of bounds")
        var result = Matrix(rows: range.count, columns: dimension)
        result.storage.withUnsafeMutableBufferPointer { decodeRows(range, into: $0) }
        return result
    }

    func decodeRows(_ range: Range<Int>, into target: UnsafeMutableBufferPointer<Float>) {
        let components = range.count * dimension
        guard components > 0, let targetBase = target.baseAddress, let source = payload.baseAddress else { return }
        let start = range.lowerBound * dimension * elementType.byteCount
        if elementType == .float32 {
            UnsafeMutableRawPointer(targetBase).copyMemory(from: source + start, byteCount: components * 4)
        } else {
            // The payload is 64-byte aligned and rows are whole elements, so binding is aligned.
            let halves = (source + start).assumingMemoryBound(to: Float16.self)
            convertFloat16(UnsafeBufferPointer(start: halves, count: components),
                           into: UnsafeMutableBufferPointer(start: targetBase, count: components))
        }
    }
}

/// Owns one read-only memory mapping; unmapped when the last store value referring to it goes.
final class MappedFile: @unchecked Sendable {
    // Immutable after init and the mapping is read-only, so sharing across threads is safe.
    let path: String
    let bytes: UnsafeRawBufferPointer
    private let mapping: UnsafeMutableRawPointer?

    init(path: String) throws(DescriptorStoreError) {
        self.path = path
        let descriptor = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            let code = errno
            throw DescriptorStoreError(code: code == ENOENT ? .notFound : .io, file: path,
                                       reason: code == ENOENT ? "no such file" : "cannot open: \(String(cString: strerror(code)))")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot stat: \(String(cString: strerror(errno)))")
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            mapping = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot map: \(String(cString: strerror(errno)))")
        }
        mapping = address
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let mapping { munmap(mapping, bytes.count) }
    }
}
