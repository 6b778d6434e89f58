import Foundation
import LandmarkLinearAlgebra
import LandmarkStorage
#if canImport(Glibc)
import Glibc
#endif

/// The whitening file, version 1. All integers and floats little-endian:
///
///     offset  size        field
///     0       8           magic "LMWHITEN"
///     8       4           version (UInt32, 1)
///     12      4           kind (UInt32: 0 = pca, 1 = learned)
///     16      4           D, the input dimension (UInt32)
///     20      4           R, the stored output dimensions (UInt32, 1…D)
///     24      4·D         mean (Float32)
///     24+4D   4·R·D       projection, row-major (Float32)
///     end−4   4           CRC-32 (IEEE) of every preceding byte
extension Whitening {
    static let magic = Array("LMWHITEN".utf8)
    static let formatVersion: UInt32 = 1
    static let headerSize = 24
    /// Far above any descriptor in use (2048) yet small enough that a corrupt header cannot make
    /// the loader believe in a multi-gigabyte payload.
    static let largestDimension = 1 << 16

    /// Writes this whitening to `url`, replacing any file there atomically: the bytes go to a
    /// temporary file in the same folder, which is then renamed into place, so a reader never sees
    /// a half-written file.
    /// - Throws: `.io` when the folder is not writable.
    public func write(to url: URL) throws(WhiteningError) {
        var bytes = Self.magic
        appendLittleEndian(Self.formatVersion, to: &bytes)
        appendLittleEndian(kind == .pca ? 0 : 1, to: &bytes)
        appendLittleEndian(UInt32(inputDimension), to: &bytes)
        appendLittleEndian(UInt32(outputDimension), to: &bytes)
        for value in mean { appendLittleEndian(value.bitPattern, to: &bytes) }
        for value in projection.storage { appendLittleEndian(value.bitPattern, to: &bytes) }
        appendLittleEndian(CRC32.checksum(bytes), to: &bytes)

        do {
            try DurableFile.write(bytes, to: url)
        } catch {
            throw WhiteningError(code: .io, file: url.path, reason: error.reason)
        }
    }

    /// Reads a whitening written by ``write(to:)``.
    /// - Throws: `.io`, `.notWhiteningFile`, `.unsupportedVersion`, `.truncated`, `.checksumMismatch`, `.corrupt`.
    public static func load(contentsOf url: URL) throws(WhiteningError) -> Whitening {
        let file = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw WhiteningError(code: .io, file: file, reason: "cannot read the file: \(error.localizedDescription)")
        }
        let bytes = [UInt8](data)
        let magicLength = min(bytes.count, magic.count)
        guard bytes[0 ..< magicLength].elementsEqual(magic[0 ..< magicLength]) else {
            throw WhiteningError(code: .notWhiteningFile, file: file, reason: "the file does not start with \"LMWHITEN\"")
        }
        guard bytes.count >= headerSize else {
            throw WhiteningError(code: .truncated, file: file, reason: "the file ends inside its \(headerSize)-byte header "
                + "(\(bytes.count) bytes); rewrite it")
        }
        let version = readLittleEndian(bytes, at: 8)
        guard version == formatVersion else {
            throw WhiteningError(code: .unsupportedVersion, file: file,
                                 reason: "format version \(version); this build reads version \(formatVersion)")
        }
        let kindCode = readLittleEndian(bytes, at: 12)
        let inputs = Int(readLittleEndian(bytes, at: 16)), outputs = Int(readLittleEndian(bytes, at: 20))
        guard kindCode <= 1, inputs >= 1, inputs <= largestDimension, outputs >= 1, outputs <= inputs else {
            throw WhiteningError(code: .corrupt, file: file, reason: "impossible header: kind \(kindCode), "
                + "\(outputs) outputs for \(inputs) inputs")
        }
        let expected = headerSize + 4 * (inputs + outputs * inputs) + 4
        guard bytes.count >= expected else {
            throw WhiteningError(code: .truncated, file: file,
                                 reason: "the file has \(bytes.count) bytes; a \(outputs)×\(inputs) whitening needs \(expected)")
        }
        guard bytes.count == expected else {
            throw WhiteningError(code: .corrupt, file: file,
                                 reason: "\(bytes.count - expected) unexpected bytes after the checksum")
        }
        let stored = readLittleEndian(bytes, at: expected - 4)
        let computed = bytes.withUnsafeBytes { CRC32.checksum(UnsafeRawBufferPointer(rebasing: $0[0 ..< expected - 4])) }
        guard stored == computed else {
            throw WhiteningError(code: .checksumMismatch, file: file, reason: "the contents do not match their checksum; "
                + "the file is damaged — relearn or recopy it")
        }
        var values = [Float](repeating: 0, count: inputs + outputs * inputs)
        for index in values.indices {
            values[index] = Float(bitPattern: readLittleEndian(bytes, at: headerSize + 4 * index))
        }
        do {
            return try Whitening(kind: kindCode == 0 ? .pca : .learned, mean: Array(values[0 ..< inputs]),
                                 projection: Matrix(rows: outputs, columns: inputs, storage: Array(values[inputs...])))
        } catch {
            throw WhiteningError(code: .corrupt, file: file, reason: error.reason)
        }
    }
}

private func appendLittleEndian(_ value: UInt32, to bytes: inout [UInt8]) {
    for shift in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
}

private func readLittleEndian(_ bytes: [UInt8], at offset: Int) -> UInt32 {
    UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8 | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24
}
