import LandmarkStorage

/// The entries of a ZIP archive, read from its central directory (ZIP64 included).
///
/// torch writes every entry *stored* (uncompressed), so an entry's data is a plain byte range of the file;
/// compressed entries are reported, not inflated.
struct ZipDirectory {
    struct Entry {
        var name: String
        var method: UInt16
        var dataRange: Range<Int>
        /// The CRC-32 the archive records for the entry's data.
        var checksum: UInt32
    }

    let entries: [String: Entry]

    private static let endOfDirectorySignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let directorySignature: UInt32 = 0x0201_4B50
    private static let localHeaderSignature: UInt32 = 0x0403_4B50

    init(_ bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) {
        func corrupt(_ reason: String) -> CheckpointError { CheckpointError(code: .corrupt, file: file, reason: "zip archive: \(reason)") }
        func u16(_ at: Int) -> Int { Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt16.self))) }
        func u32(_ at: Int) -> Int { Int(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self))) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        func fits(_ at: Int, _ count: Int) -> Bool { at >= 0 && count >= 0 && at <= bytes.count - count }

        // The end-of-central-directory record is the last 22 bytes plus a comment of at most 65535 bytes.
        var endRecord: Int?
        var candidate = bytes.count - 22
        while candidate >= max(0, bytes.count - 22 - 65535) {
            if u32(candidate) == Int(Self.endOfDirectorySignature) { endRecord = candidate; break }
            candidate -= 1
        }
        guard let endRecord else {
            throw CheckpointError(code: .truncated, file: file,
                                  reason: "zip archive without its end-of-central-directory record: the file is probably truncated")
        }
        var entryCount = u16(endRecord + 10)
        var directorySize = u32(endRecord + 12)
        var directoryOffset = u32(endRecord + 16)
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the record points at the 64-bit end record.
            let locator = endRecord - 20
            guard fits(locator, 20), u32(locator) == Int(Self.zip64LocatorSignature) else {
                throw corrupt("32-bit directory fields are saturated but there is no ZIP64 locator")
            }
            let zip64End = u64(locator + 8)
            guard zip64End <= UInt64(bytes.count), fits(Int(zip64End), 56), u32(Int(zip64End)) == Int(Self.zip64EndSignature) else {
                throw corrupt("the ZIP64 locator points at no ZIP64 end record")
            }
            let record = Int(zip64End)
            let count64 = u64(record + 32), size64 = u64(record + 40), offset64 = u64(record + 48)
            guard count64 <= UInt64(bytes.count), size64 <= UInt64(bytes.count), offset64 <= UInt64(bytes.count) else {
                throw CheckpointError(code: .truncated, file: file, reason: "zip archive: the ZIP64 directory lies beyond the end of the file")
            }
            entryCount = Int(count64)
            directorySize = Int(size64)
            directoryOffset = Int(offset64)
        }
        guard fits(directoryOffset, directorySize) else {
            throw corrupt("central directory at \(directoryOffset) (\(directorySize) bytes) lies beyond the \(bytes.count)-byte file")
        }
        guard entryCount <= directorySize / 46 else {
            throw corrupt("\(entryCount) entries cannot fit a \(directorySize)-byte central directory")
        }

        var entries: [String: Entry] = [:]
        var position = directoryOffset
        let directoryEnd = directoryOffset + directorySize
        for index in 0..<entryCount {
            guard position <= directoryEnd - 46, u32(position) == Int(Self.directorySignature) else {
                throw corrupt("central directory entry \(index) at byte \(position) has no valid signature")
            }
            let flags = u16(position + 8)
            let method = UInt16(u16(position + 10))
            let checksum = UInt32(u32(position + 16))
            var compressedSize = UInt64(u32(position + 20))
            var size = UInt64(u32(position + 24))
            let nameLength = u16(position + 28), extraLength = u16(position + 30), commentLength = u16(position + 32)
            var localHeader = UInt64(u32(position + 42))
            let nameStart = position + 46
            guard nameStart + nameLength + extraLength + commentLength <= directoryEnd else {
                throw corrupt("central directory entry \(index) runs past the directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameStart..<(nameStart + nameLength)]), as: UTF8.self)
            guard flags & 1 == 0 else {
                throw CheckpointError(code: .unsupportedFormat, file: file, reason: "zip entry '\(name)' is encrypted")
            }
            // ZIP64 extra field: 64-bit values for exactly the fields saturated above, in this order.
            var extra = nameStart + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let tag = u16(extra), length = u16(extra + 2)
                let fieldEnd = extra + 4 + length
                guard fieldEnd <= extraEnd else { throw corrupt("extra field of entry '\(name)' runs past its entry") }
                if tag == 0x0001 {
                    var cursor = extra + 4
                    func next() throws(CheckpointError) -> UInt64 {
                        guard cursor + 8 <= fieldEnd else { throw corrupt("ZIP64 field of entry '\(name)' is too short") }
                        defer { cursor += 8 }
                        return u64(cursor)
                    }
                    if size == 0xFFFF_FFFF { size = try next() }
                    if compressedSize == 0xFFFF_FFFF { compressedSize = try next() }
                    if localHeader == 0xFFFF_FFFF { localHeader = try next() }
                }
                extra = fieldEnd
            }
            guard localHeader <= UInt64(bytes.count), compressedSize <= UInt64(bytes.count) else {
                throw CheckpointError(code: .truncated, file: file, reason: "zip entry '\(name)' lies beyond the end of the file")
            }
            let header = Int(localHeader)
            guard fits(header, 30) else {
                throw CheckpointError(code: .truncated, file: file, reason: "zip entry '\(name)' lies beyond the end of the file")
            }
            guard u32(header) == Int(Self.localHeaderSignature) else {
                throw corrupt("entry '\(name)' points at byte \(header), where there is no local header")
            }
            // The local header has its own name and extra lengths (torch pads the extra field to align data).
            let dataStart = header + 30 + u16(header + 26) + u16(header + 28)
            guard fits(dataStart, Int(compressedSize)) else {
                throw CheckpointError(code: .truncated, file: file,
                                      reason: "zip entry '\(name)' (\(compressedSize) bytes at \(dataStart)) runs past the end of the file")
            }
            if method == 0, compressedSize != size {
                throw corrupt("stored entry '\(name)' has compressed size \(compressedSize) but size \(size)")
            }
            entries[name] = Entry(name: name, method: method, dataRange: dataStart..<(dataStart + Int(compressedSize)),
                                  checksum: checksum)
            position = nameStart + nameLength + extraLength + commentLength
        }
        self.entries = entries
    }

    /// The bytes of a stored entry, checked against the entry's CRC-32: a damaged download or disk
    /// would otherwise load as weights that silently describe every image differently.
    func data(of entry: Entry, in bytes: UnsafeRawBufferPointer, file: String) throws(CheckpointError) -> UnsafeRawBufferPointer {
        guard entry.method == 0 else {
            throw CheckpointError(code: .unsupportedFormat, file: file,
                                  reason: "zip entry '\(entry.name)' is compressed (method \(entry.method)); torch writes entries "
                                      + "uncompressed — re-save the checkpoint with torch.save instead of re-zipping it")
        }
        let data = UnsafeRawBufferPointer(rebasing: bytes[entry.dataRange])
        var checksum = CRC32()
        checksum.update(data)
        guard checksum.value == entry.checksum else {
            throw CheckpointError(code: .corrupt, file: file,
                                  reason: "zip entry '\(entry.name)' fails its CRC-32 check (recorded \(String(entry.checksum, radix: 16)), "
                                      + "computed \(String(checksum.value, radix: 16))): the file is damaged — fetch it again")
        }
        return data
    }
}
