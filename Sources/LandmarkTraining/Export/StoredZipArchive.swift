import LandmarkStorage

/// A ZIP archive of *stored* (uncompressed) entries, laid out as torch's `PyTorchFileWriter` lays out a
/// checkpoint: each entry's data starts on a 64-byte boundary (the local header's extra field is padded
/// with a `FB` field), so that torch can memory-map storages, and each entry carries its CRC-32, which
/// torch's reader verifies.
///
/// Only what checkpoints need: no compression, no ZIP64 (an archive stops at 4 GiB, far above any network
/// this project trains), no timestamps (a fixed 1980-01-01, so equal content gives equal files).
struct StoredZipArchive {
    static let alignment = 64
    private(set) var bytes: [UInt8] = []
    private var directory: [UInt8] = []
    private var entryCount = 0

    /// Appends an entry; `name` is the full path inside the archive (`archive/data/0`).
    mutating func add(_ name: String, _ data: [UInt8]) throws(ExportError) {
        let nameBytes = Array(name.utf8)
        let headerOffset = bytes.count
        // Pad the extra field so that the data (after 30 header bytes, the name and the extra field) is aligned.
        let unpadded = headerOffset + 30 + nameBytes.count
        var extraLength = (Self.alignment - unpadded % Self.alignment) % Self.alignment
        if extraLength > 0, extraLength < 4 { extraLength += Self.alignment }
        let checksum = CRC32.checksum(data)
        guard data.count < Int(UInt32.max), headerOffset + 30 + nameBytes.count + extraLength + data.count < Int(UInt32.max) else {
            throw ExportError(file: name, reason: "the checkpoint would exceed 4 GiB, which this writer (no ZIP64) does not support")
        }

        append32(&bytes, 0x0403_4B50)
        append16(&bytes, 20)                       // version needed to extract: 2.0
        append16(&bytes, 0)                        // flags
        append16(&bytes, 0)                        // method: stored
        append16(&bytes, 0)                        // time 00:00:00
        append16(&bytes, 0x21)                     // date 1980-01-01
        append32(&bytes, checksum)
        append32(&bytes, UInt32(data.count))       // compressed size
        append32(&bytes, UInt32(data.count))       // uncompressed size
        append16(&bytes, UInt16(nameBytes.count))
        append16(&bytes, UInt16(extraLength))
        bytes.append(contentsOf: nameBytes)
        if extraLength > 0 {
            append16(&bytes, 0x4246)               // "FB", torch's padding field
            append16(&bytes, UInt16(extraLength - 4))
            bytes.append(contentsOf: repeatElement(UInt8(ascii: "Z"), count: extraLength - 4))
        }
        bytes.append(contentsOf: data)

        append32(&directory, 0x0201_4B50)
        append16(&directory, 20)                   // version made by
        append16(&directory, 20)                   // version needed
        append16(&directory, 0)
        append16(&directory, 0)
        append16(&directory, 0)
        append16(&directory, 0x21)
        append32(&directory, checksum)
        append32(&directory, UInt32(data.count))
        append32(&directory, UInt32(data.count))
        append16(&directory, UInt16(nameBytes.count))
        append16(&directory, 0)                    // extra length
        append16(&directory, 0)                    // comment length
        append16(&directory, 0)                    // disk number
        append16(&directory, 0)                    // internal attributes
        append32(&directory, 0)                    // external attributes
        append32(&directory, UInt32(headerOffset))
        directory.append(contentsOf: nameBytes)
        entryCount += 1
    }

    /// The archive with its central directory and end record.
    func finished() throws(ExportError) -> [UInt8] {
        guard entryCount < 0xFFFF, bytes.count + directory.count < Int(UInt32.max) else {
            throw ExportError(file: "<zip archive>", reason: "too many entries or bytes for a ZIP archive without ZIP64")
        }
        var archive = bytes
        archive.append(contentsOf: directory)
        append32(&archive, 0x0605_4B50)
        append16(&archive, 0)
        append16(&archive, 0)
        append16(&archive, UInt16(entryCount))
        append16(&archive, UInt16(entryCount))
        append32(&archive, UInt32(directory.count))
        append32(&archive, UInt32(bytes.count))
        append16(&archive, 0)
        return archive
    }

    private func append16(_ target: inout [UInt8], _ value: UInt16) {
        target.append(UInt8(truncatingIfNeeded: value))
        target.append(UInt8(truncatingIfNeeded: value >> 8))
    }

    private func append32(_ target: inout [UInt8], _ value: UInt32) {
        for shift in stride(from: 0, to: 32, by: 8) { target.append(UInt8(truncatingIfNeeded: value >> UInt32(shift))) }
    }
}
