import LandmarkLinearAlgebra

/// How descriptor components are stored on disk. Search always computes in Float32.
public struct DescriptorElementType: Sendable, Hashable, CustomStringConvertible {
    /// The code written in the file header.
    public let rawValue: UInt32
    /// Bytes per component.
    public let byteCount: Int
    public let description: String

    public static let float32 = DescriptorElementType(rawValue: 1, byteCount: 4, description: "float32")
    /// Half the size on disk and in memory; about 3 significant digits, enough for normalised
    /// descriptors whose inner products are compared, not accumulated.
    public static let float16 = DescriptorElementType(rawValue: 2, byteCount: 2, description: "float16")

    init(rawValue: UInt32, byteCount: Int, description: String) {
        self.rawValue = rawValue
        self.byteCount = byteCount
        self.description = description
    }

    /// The type with the given header code, or nil for a code this version does not know.
    public init?(rawValue: UInt32) {
        switch rawValue {
        case 1: self = .float32
        case 2: self = .float16
        default: return nil
        }
    }
}

/// The on-disk layout of a descriptor store, version 1. All integers little-endian.
///
///     offset  size  field
///          0     8  magic "LMKDESC\0"
///          8     4  format version (UInt32) = 1
///         12     4  element type (UInt32): 1 = float32, 2 = float16
///         16     8  dimension (UInt64)
///         24     8  count (UInt64)
///         32     8  metadata section length in bytes (UInt64)
///         40     8  identifier section length in bytes (UInt64)
///         48     8  payload offset (UInt64), = (64 + metadata + identifiers) rounded up to 64
///         56     8  checksum (UInt64; low 32 bits = CRC-32 of bytes 0..<56 followed by bytes 64..<end)
///         64        metadata: UInt32 pair count, then per pair (sorted by key) UInt32 length + UTF-8
///                   key, UInt32 length + UTF-8 value
///                   identifiers: per descriptor UInt32 length + UTF-8
///                   zero padding to the payload offset
///     payload       count × dimension components, row-major (one descriptor after another)
///
/// The payload is 64-byte aligned so that a memory-mapped file can be read as SIMD/BLAS operands.
enum DescriptorStoreFormat {
    static let magic: [UInt8] = Array("LMKDESC\0".utf8)
    static let version: UInt32 = 1
    static let payloadAlignment = 64

    struct Header: Equatable {
        var elementType: DescriptorElementType
        var dimension: Int
        var count: Int
        var metadataLength: Int
        var identifiersLength: Int
        var payloadOffset: Int { alignedPayloadOffset(metadataLength: metadataLength, identifiersLength: identifiersLength) }
        var payloadLength: Int { count * dimension * elementType.byteCount }
        var fileSize: Int { payloadOffset + payloadLength }

        /// The 64 header bytes with the checksum field set to `checksum`.
        func encoded(checksum: UInt32) -> [UInt8] {
            StoreFileSections.encodeHeader(
                magic: DescriptorStoreFormat.magic, version: DescriptorStoreFormat.version, word: elementType.rawValue,
                fields: [UInt64(dimension), UInt64(count), UInt64(metadataLength), UInt64(identifiersLength),
                         UInt64(payloadOffset)],
                checksum: checksum)
        }
    }

    static func alignedPayloadOffset(metadataLength: Int, identifiersLength: Int) -> Int {
        let end = StoreFileSections.headerSize + metadataLength + identifiersLength
        return (end + payloadAlignment - 1) / payloadAlignment * payloadAlignment
    }

    static func encodeMetadata(_ metadata: [String: String]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendLittleEndian(UInt32(metadata.count))
        for key in metadata.keys.sorted() {
            bytes.appendLengthPrefixed(key)
            bytes.appendLengthPrefixed(metadata[key] ?? "")
        }
        return bytes
    }

    static func encodeIdentifiers(_ identifiers: [String]) -> [UInt8] {
        var bytes: [UInt8] = []
        for identifier in identifiers { bytes.appendLengthPrefixed(identifier) }
        return bytes
    }
}

extension [UInt8] {
    mutating func appendLittleEndian<Value: FixedWidthInteger>(_ value: Value) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendLengthPrefixed(_ string: String) {
        let utf8 = Array(string.utf8)
        appendLittleEndian(UInt32(utf8.count))
        append(contentsOf: utf8)
    }
}

/// Reads length-prefixed fields from a section, reporting overruns instead of trapping.
struct SectionReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { offset == bytes.count }

    mutating func readUInt32() -> UInt32? {
        guard bytes.count - offset >= 4, let base = bytes.baseAddress else { return nil }
        let value = UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
        offset += 4
        return value
    }

    mutating func readString() -> String? {
        guard let length = readUInt32().map(Int.init), bytes.count - offset >= length else { return nil }
        let slice = UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
        offset += length
        // Reject invalid UTF-8 rather than silently repairing it: it means corruption.
        return String(validating: slice, as: UTF8.self)
    }
}
