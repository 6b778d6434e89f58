import Foundation
import LandmarkStorage

/// Little-endian serialisation for the ASMK files. Every file is
/// `magic (8 bytes) · version (UInt32) · body · CRC-32 of everything before it (UInt32)`,
/// so a reader rejects foreign, newer, truncated and corrupted files before decoding the body.
struct ASMKByteWriter {
    private(set) var bytes: [UInt8] = []

    init(magic: [UInt8], version: UInt32) {
        bytes.append(contentsOf: magic)
        append(version)
    }

    mutating func append(_ value: UInt32) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: UInt64) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(_ value: Float) { append(value.bitPattern) }

    // Arrays are appended as one block of little-endian bytes. (Reserving exactly `count + n` before
    // each array defeated the array's geometric growth and made writing an index quadratic in its size.)
    mutating func append(_ values: [Float]) { appendLittleEndian(values.map(\.bitPattern)) }

    mutating func append(bytes values: [UInt8]) {
        bytes.append(contentsOf: values)
    }

    mutating func append(_ values: [UInt32]) { appendLittleEndian(values) }

    mutating func append(_ values: [UInt64]) { appendLittleEndian(values) }

    private mutating func appendLittleEndian<Value: FixedWidthInteger>(_ values: [Value]) {
        let encoded = values.map(\.littleEndian)
        encoded.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    /// The finished file: body followed by its checksum.
    func sealed() -> [UInt8] {
        var checksum = CRC32()
        checksum.update(bytes)
        var result = bytes
        withUnsafeBytes(of: checksum.value.littleEndian) { result.append(contentsOf: $0) }
        return result
    }
}

/// Bounds-checked reads over a file that has already passed its magic, version and checksum checks.
struct ASMKByteReader {
    let bytes: [UInt8]
    let file: String
    private(set) var offset: Int
    /// Reads stop before the trailing checksum.
    private let end: Int

    /// Validates magic, version and checksum, and positions the reader after the version.
    init(bytes: [UInt8], file: String, magic: [UInt8], version: UInt32, kind: String) throws(ASMKError) {
        self.bytes = bytes
        self.file = file
        let headerSize = magic.count + 4
        guard bytes.count >= magic.count, Array(bytes[0 ..< magic.count]) == magic else {
            throw ASMKError(code: .badMagic, file: file, reason: "not an ASMK \(kind) file (wrong magic bytes)")
        }
        guard bytes.count >= headerSize + 4 else {
            throw ASMKError(code: .truncated, file: file,
                            reason: "only \(bytes.count) bytes; the file was cut short — write it again")
        }
        var found: UInt32 = 0
        for index in 0 ..< 4 { found |= UInt32(bytes[magic.count + index]) << (8 * index) }
        guard found == version else {
            throw ASMKError(code: .unsupportedVersion, file: file,
                            reason: "\(kind) format version \(found); this build reads version \(version) — rebuild the \(kind)")
        }
        var stored: UInt32 = 0
        for index in 0 ..< 4 { stored |= UInt32(bytes[bytes.count - 4 + index]) << (8 * index) }
        var checksum = CRC32()
        bytes.withUnsafeBytes { checksum.update(UnsafeRawBufferPointer(rebasing: $0[0 ..< bytes.count - 4])) }
        guard checksum.value == stored else {
            throw ASMKError(code: .checksumMismatch, file: file,
                            reason: "content does not match its checksum (truncated or corrupted) — rebuild the \(kind)")
        }
        offset = headerSize
        end = bytes.count - 4
    }

    var isAtEnd: Bool { offset == end }

    private mutating func take(_ count: Int) throws(ASMKError) -> Int {
        guard count >= 0, count <= end - offset else {
            throw ASMKError(code: .truncated, file: file, reason: "the file ends inside a section — rebuild it")
        }
        let start = offset
        offset += count
        return start
    }

    mutating func readUInt32() throws(ASMKError) -> UInt32 {
        let start = try take(4)
        var value: UInt32 = 0
        for index in 0 ..< 4 { value |= UInt32(bytes[start + index]) << (8 * index) }
        return value
    }

    mutating func readUInt64() throws(ASMKError) -> UInt64 {
        let start = try take(8)
        var value: UInt64 = 0
        for index in 0 ..< 8 { value |= UInt64(bytes[start + index]) << (8 * index) }
        return value
    }

    mutating func readFloat() throws(ASMKError) -> Float { Float(bitPattern: try readUInt32()) }

    /// A count read from the file, checked against what the rest of the file can hold so a corrupt
    /// count never triggers a huge allocation.
    mutating func readCount(elementSize: Int) throws(ASMKError) -> Int {
        let count = Int(try readUInt32())
        guard count.multipliedReportingOverflow(by: max(elementSize, 1)).partialValue <= end - offset else {
            throw ASMKError(code: .truncated, file: file, reason: "a section claims \(count) elements but the file is shorter — rebuild it")
        }
        return count
    }

    mutating func readBytes(_ count: Int) throws(ASMKError) -> [UInt8] {
        let start = try take(count)
        return Array(bytes[start ..< start + count])
    }

    mutating func readFloats(_ count: Int) throws(ASMKError) -> [Float] {
        var result = [Float]()
        result.reserveCapacity(min(count, (end - offset) / 4))
        for _ in 0 ..< count { result.append(try readFloat()) }
        return result
    }

    mutating func readUInt32s(_ count: Int) throws(ASMKError) -> [UInt32] {
        var result = [UInt32]()
        result.reserveCapacity(min(count, (end - offset) / 4))
        for _ in 0 ..< count { result.append(try readUInt32()) }
        return result
    }

    mutating func readUInt64s(_ count: Int) throws(ASMKError) -> [UInt64] {
        var result = [UInt64]()
        result.reserveCapacity(min(count, (end - offset) / 8))
        for _ in 0 ..< count { result.append(try readUInt64()) }
        return result
    }
}

enum ASMKFile {
    static func read(_ url: URL) throws(ASMKError) -> [UInt8] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ASMKError(code: .notFound, file: url.path, reason: "no such file")
        }
        do {
            return [UInt8](try Data(contentsOf: url))
        } catch {
            throw ASMKError(code: .io, file: url.path, reason: "cannot read: \(error.localizedDescription)")
        }
    }

    /// Writes through `DurableFile`, so a reader never sees a half-written file and the new file
    /// survives a power cut once this returns.
    static func writeAtomically(_ bytes: [UInt8], to url: URL) throws(ASMKError) {
        do {
            try DurableFile.write(bytes, to: url)
        } catch {
            throw ASMKError(code: .io, file: url.path, reason: error.reason)
        }
    }
}
