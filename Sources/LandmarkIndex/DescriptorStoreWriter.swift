#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LandmarkStorage
import LandmarkLinearAlgebra

/// Creates descriptor stores. Every write goes to a temporary file in the destination's
/// directory, is flushed to disk, and is then renamed over the destination, so readers — and a
/// crash — only ever see the old file or the complete new one.
public enum DescriptorStoreWriter {
    /// Writes `descriptors` (one per row) with their identifiers and metadata.
    /// - Throws: `.countMismatch` when `identifiers.count != descriptors.rows`; `.io` on OS errors.
    public static func write(_ descriptors: Matrix, identifiers: [String], metadata: [String: String],
                             elementType: DescriptorElementType = .float32, to url: URL) throws(DescriptorStoreError) {
        guard identifiers.count == descriptors.rows else {
            throw DescriptorStoreError(code: .countMismatch, file: url.path,
                                       reason: "\(descriptors.rows) descriptors but \(identifiers.count) identifiers")
        }
        try writeAtomically(to: url, dimension: descriptors.columns, elementType: elementType, metadata: metadata,
                            identifiers: identifiers) { (sink: inout FileSink) throws(DescriptorStoreError) in
            try sink.writeEncoded(descriptors, as: elementType)
        }
    }

    /// Concatenates shards, in the given order, into one store.
    /// - Throws: `.dimensionMismatch`, `.elementTypeMismatch` or `.metadataMismatch` naming the
    ///   first shard that disagrees with the first one; any error opening a shard.
    public static func merge(_ shards: [URL], into url: URL) throws(DescriptorStoreError) {
        guard !shards.isEmpty else {
            throw DescriptorStoreError(code: .io, file: url.path, reason: "no shards to merge")
        }
        var stores: [DescriptorStore] = []
        for shard in shards { stores.append(try DescriptorStore.open(shard)) }
        let first = stores[0]
        for store in stores.dropFirst() { try store.checkJoinable(with: first) }
        try writeAtomically(to: url, dimension: first.dimension, elementType: first.elementType,
                            metadata: first.metadata, identifiers: stores.flatMap(\.identifiers)) {
            (sink: inout FileSink) throws(DescriptorStoreError) in
            for store in stores { try sink.write(store.payload) }
        }
    }

    /// Adds descriptors to the end of an existing store (rewriting it atomically), keeping its
    /// element type and metadata.
    /// - Throws: `.dimensionMismatch` when the columns differ from the store's dimension.
    public static func append(_ descriptors: Matrix, identifiers: [String], to url: URL) throws(DescriptorStoreError) {
        let existing = try DescriptorStore.open(url)
        guard descriptors.columns == existing.dimension else {
            throw DescriptorStoreError(code: .dimensionMismatch, file: url.path,
                                       reason: "store has dimension \(existing.dimension), new descriptors have \(descriptors.columns)")
        }
        guard identifiers.count == descriptors.rows else {
            throw DescriptorStoreError(code: .countMismatch, file: url.path,
                                       reason: "\(descriptors.rows) descriptors but \(identifiers.count) identifiers")
        }
        try writeAtomically(to: url, dimension: existing.dimension, elementType: existing.elementType,
                            metadata: existing.metadata, identifiers: existing.identifiers + identifiers) {
            (sink: inout FileSink) throws(DescriptorStoreError) in
            try sink.write(existing.payload)
            try sink.writeEncoded(descriptors, as: existing.elementType)
        }
    }

    private static func writeAtomically(
        to url: URL, dimension: Int, elementType: DescriptorElementType, metadata: [String: String],
        identifiers: [String], payload: (inout FileSink) throws(DescriptorStoreError) -> Void
    ) throws(DescriptorStoreError) {
        let metadataBytes = DescriptorStoreFormat.encodeMetadata(metadata)
        let identifierBytes = DescriptorStoreFormat.encodeIdentifiers(identifiers)
        let header = DescriptorStoreFormat.Header(
            elementType: elementType, dimension: dimension, count: identifiers.count,
            metadataLength: metadataBytes.count, identifiersLength: identifierBytes.count)

        try StoreFileSections.writeAtomically(
            to: url, header: header.encoded(checksum: 0), metadata: metadataBytes, identifiers: identifierBytes,
            payloadOffset: header.payloadOffset, fileSize: header.fileSize, payload: payload)
    }
}

/// Buffered, checksummed writes to a new file.
struct FileSink {
    let path: String
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    private let bufferCapacity = 1 << 20
    private(set) var offset = 0
    var checksum = CRC32()

    init(path: String) throws(DescriptorStoreError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot create: \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(bufferCapacity)
    }

    mutating func write(_ bytes: [UInt8]) throws(DescriptorStoreError) {
        try withBytes(of: bytes) { (raw: UnsafeRawBufferPointer) throws(DescriptorStoreError) in try write(raw) }
    }

    mutating func write(_ bytes: UnsafeRawBufferPointer) throws(DescriptorStoreError) {
        checksum.update(bytes)
        offset += bytes.count
        if buffer.count + bytes.count <= bufferCapacity {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        if bytes.count >= bufferCapacity {
            try writeFully(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    /// Writes a matrix's rows converted to `elementType`, a bounded chunk at a time.
    mutating func writeEncoded(_ matrix: Matrix, as elementType: DescriptorElementType) throws(DescriptorStoreError) {
        if elementType == .float32 {
            try withBytes(of: matrix.storage) { (raw: UnsafeRawBufferPointer) throws(DescriptorStoreError) in try write(raw) }
            return
        }
        let chunk = 1 << 16
        var halves = [Float16](repeating: 0, count: chunk)
        var start = 0
        let total = matrix.storage.count
        while start < total {
            let end = min(start + chunk, total)
            matrix.storage.withUnsafeBufferPointer { source in
                halves.withUnsafeMutableBufferPointer { target in
                    convertToFloat16(UnsafeBufferPointer(rebasing: source[start ..< end]),
                                     into: UnsafeMutableBufferPointer(rebasing: target[0 ..< end - start]))
                }
            }
            try withBytes(of: halves) { (raw: UnsafeRawBufferPointer) throws(DescriptorStoreError) in
                try write(UnsafeRawBufferPointer(rebasing: raw[0 ..< (end - start) * 2]))
            }
            start = end
        }
    }

    mutating func finish(checksum value: UInt64) throws(DescriptorStoreError) {
        try flush()
        var littleEndian = value.littleEndian
        let written = pwrite(descriptor, &littleEndian, 8, off_t(StoreFileSections.checksumOffset))
        guard written == 8 else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot write the checksum: \(String(cString: strerror(errno)))")
        }
        guard fsync(descriptor) == 0 else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot flush to disk: \(String(cString: strerror(errno)))")
        }
        let status = close(descriptor)
        descriptor = -1
        guard status == 0 else {
            throw DescriptorStoreError(code: .io, file: path, reason: "cannot close: \(String(cString: strerror(errno)))")
        }
    }

    mutating func abandon() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    private mutating func flush() throws(DescriptorStoreError) {
        guard !buffer.isEmpty else { return }
        let pending = buffer
        try withBytes(of: pending) { (raw: UnsafeRawBufferPointer) throws(DescriptorStoreError) in try writeFully(raw) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeFully(_ bytes: UnsafeRawBufferPointer) throws(DescriptorStoreError) {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw DescriptorStoreError(code: .io, file: path, reason: "cannot write: \(String(cString: strerror(errno)))")
            }
            next += written
            remaining -= written
        }
    }
}

/// `Array.withUnsafeBytes` with a typed-throwing body (the standard one only rethrows `any Error`).
private func withBytes<Element, Result>(
    of array: [Element], _ body: (UnsafeRawBufferPointer) throws(DescriptorStoreError) -> Result
) throws(DescriptorStoreError) -> Result {
    let outcome: Swift.Result<Result, DescriptorStoreError> = array.withUnsafeBytes { raw in
        Swift.Result { () throws(DescriptorStoreError) -> Result in try body(raw) }
    }
    return try outcome.get()
}
