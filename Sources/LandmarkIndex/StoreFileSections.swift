#if canImport(Glibc)
import Glibc
#endif
import Foundation
import LandmarkStorage

/// What the descriptor store and the local-feature store share on disk (see `DescriptorStoreFormat`): a
/// 64-byte header of magic, version, one UInt32 field, five UInt64 fields and the checksum, then the
/// metadata and identifier sections, padded to a 64-byte aligned payload. Reading and writing that part
/// lives here once; each store adds only what its header fields and payload mean.
enum StoreFileSections {
    static let headerSize = 64
    static let checksumOffset = 56

    typealias Failure = (DescriptorStoreError.Code, String) -> DescriptorStoreError

    /// The header fields after the version: the UInt32 at byte 12 and the UInt64s at bytes 16 ..< 56.
    struct RawHeader {
        var word: UInt32
        var fields: [UInt64]
    }

    /// The 64 header bytes with the checksum field set to `checksum`.
    static func encodeHeader(magic: [UInt8], version: UInt32, word: UInt32, fields: [UInt64],
                             checksum: UInt32) -> [UInt8] {
        var bytes = magic
        bytes.appendLittleEndian(version)
        bytes.appendLittleEndian(word)
        for field in fields { bytes.appendLittleEndian(field) }
        bytes.appendLittleEndian(UInt64(checksum))
        return bytes
    }

    /// Checks the magic bytes, the header's presence and the version; returns the remaining header fields.
    /// - Parameter kind: what the file should be, for the message, e.g. "descriptor store".
    static func readHeader(_ bytes: UnsafeRawBufferPointer, magic: [UInt8], version: UInt32, kind: String,
                           failure: Failure) throws(DescriptorStoreError) -> RawHeader {
        let prefix = Array(bytes.prefix(magic.count))
        guard prefix == Array(magic.prefix(prefix.count)) else {
            throw failure(.badMagic, "not a landmark \(kind) (wrong magic bytes)")
        }
        guard bytes.count >= headerSize else {
            throw failure(.truncated, "file has \(bytes.count) bytes, shorter than the 64-byte header")
        }
        let found = uint32(bytes, at: 8)
        guard found == version else {
            throw failure(.unsupportedVersion, "format version \(found); this build reads version \(version) — rebuild the store")
        }
        return RawHeader(word: uint32(bytes, at: 12), fields: stride(from: 16, to: checksumOffset, by: 8).map { uint64(bytes, at: $0) })
    }

    /// Recomputes the CRC-32 over the whole file (its own field skipped) and compares it with the stored one.
    static func verifyChecksum(_ bytes: UnsafeRawBufferPointer, failure: Failure) throws(DescriptorStoreError) {
        var crc = CRC32()
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[0 ..< checksumOffset]))
        crc.update(UnsafeRawBufferPointer(rebasing: bytes[headerSize...]))
        let stored = uint64(bytes, at: checksumOffset)
        guard stored == UInt64(crc.value) else {
            throw failure(.checksumMismatch, "content checksum \(crc.value) differs from the stored \(stored); the file is damaged — rebuild or re-copy it")
        }
    }

    /// Decodes the metadata section (at the end of the header) and the `count` identifiers after it. The
    /// caller has checked that both sections lie inside `bytes`.
    static func readMetadataAndIdentifiers(
        _ bytes: UnsafeRawBufferPointer, metadataLength: Int, identifiersLength: Int, count: Int, failure: Failure
    ) throws(DescriptorStoreError) -> (metadata: [String: String], identifiers: [String]) {
        let metadataStart = headerSize
        var metadataReader = SectionReader(UnsafeRawBufferPointer(
            rebasing: bytes[metadataStart ..< metadataStart + metadataLength]))
        var metadata: [String: String] = [:]
        guard let pairCount = metadataReader.readUInt32() else { throw failure(.corrupt, "metadata section is empty") }
        for _ in 0 ..< pairCount {
            guard let key = metadataReader.readString(), let value = metadataReader.readString() else {
                throw failure(.corrupt, "metadata section is malformed")
            }
            metadata[key] = value
        }
        guard metadataReader.isAtEnd else { throw failure(.corrupt, "metadata section has trailing bytes") }

        let identifiersStart = metadataStart + metadataLength
        var identifierReader = SectionReader(UnsafeRawBufferPointer(
            rebasing: bytes[identifiersStart ..< identifiersStart + identifiersLength]))
        var identifiers: [String] = []
        identifiers.reserveCapacity(count)
        for index in 0 ..< count {
            guard let identifier = identifierReader.readString() else {
                throw failure(.corrupt, "identifier \(index) of \(count) is missing or malformed")
            }
            identifiers.append(identifier)
        }
        guard identifierReader.isAtEnd else { throw failure(.corrupt, "identifier section has trailing bytes") }
        return (metadata, identifiers)
    }

    static func uint64(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    static func uint32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// Writes header, metadata, identifiers and padding to a temporary file in the destination's directory,
    /// then `payload`; checks the size, patches in the checksum, flushes, renames the file over `url` and
    /// persists the rename. On any failure the temporary file is removed and `url` is left as it was, so
    /// readers — and a crash — see the old file or the complete new one, never a mix.
    static func writeAtomically(
        to url: URL, header headerBytes: [UInt8], metadata metadataBytes: [UInt8], identifiers identifierBytes: [UInt8],
        payloadOffset: Int, fileSize: Int, payload: (inout FileSink) throws(DescriptorStoreError) -> Void
    ) throws(DescriptorStoreError) {
        let directory = url.deletingLastPathComponent().path
        let temporaryPath = directory + "/" + DurableFile.temporaryName(for: url)
        var sink = try FileSink(path: temporaryPath)
        do throws(DescriptorStoreError) {
            try sink.write(headerBytes)
            // The checksum skips its own field; it is hashed as if absent and patched in at the end.
            sink.checksum = CRC32()
            headerBytes.withUnsafeBytes {
                sink.checksum.update(UnsafeRawBufferPointer(rebasing: $0[0 ..< checksumOffset]))
            }
            try sink.write(metadataBytes)
            try sink.write(identifierBytes)
            try sink.write([UInt8](repeating: 0, count: payloadOffset - sink.offset))
            try payload(&sink)
            guard sink.offset == fileSize else {
                throw DescriptorStoreError(code: .io, file: temporaryPath, reason: "wrote \(sink.offset) bytes, expected \(fileSize)")
            }
            try sink.finish(checksum: UInt64(sink.checksum.value))
        } catch {
            sink.abandon()
            unlink(temporaryPath)
            throw error
        }
        do {
            try DurableFile.commit(temporaryPath, to: url)
        } catch {
            throw DescriptorStoreError(code: .io, file: url.path, reason: error.reason)
        }
    }
}
