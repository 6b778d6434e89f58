import Foundation

/// A small RFC 4180 CSV reader: comma-separated fields, double-quoted fields that may hold commas, quotes
/// (written `""`) and line breaks, and LF or CRLF line ends.
public struct CSVTable: Sendable, Equatable {
    public var header: [String]
    public var rows: [[String]]
    /// The 1-based line on which each row starts, for error messages.
    public var lineNumbers: [Int]

    /// Parses `text`. Every row must have as many fields as the header; blank lines are skipped.
    public static func parse(_ text: String, file: String) throws(DatasetError) -> CSVTable {
        var records: [[String]] = []
        var startLines: [Int] = []
        var field: [UInt8] = []
        var record: [String] = []
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quotedFieldEnded = false
        let bytes = Array(text.utf8)
        var index = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0 // byte-order mark

        func endField() {
            record.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
            quotedFieldEnded = false
        }
        func endRecord() {
            endField()
            if !(record.count == 1 && record[0].isEmpty) { // a blank line
                records.append(record)
                startLines.append(recordLine)
            }
            record.removeAll()
        }

        while index < bytes.count {
            let byte = bytes[index]
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "\"") {
                        field.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                        quotedFieldEnded = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
            } else {
                switch byte {
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"):
                    endRecord()
                    line += 1
                    recordLine = line
                case UInt8(ascii: "\r") where index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "\n"):
                    break
                case UInt8(ascii: "\""):
                    guard field.isEmpty, !quotedFieldEnded else {
                        throw DatasetError(code: .malformedText, file: file,
                                           reason: "line \(line): a quote inside an unquoted field; quote the whole field and double inner quotes")
                    }
                    inQuotes = true
                default:
                    guard !quotedFieldEnded else {
                        throw DatasetError(code: .malformedText, file: file,
                                           reason: "line \(line): text after the closing quote of a field")
                    }
                    field.append(byte)
                }
            }
            index += 1
        }
        if inQuotes {
            throw DatasetError(code: .malformedText, file: file,
                               reason: "line \(recordLine): a quoted field is never closed")
        }
        if !field.isEmpty || !record.isEmpty || quotedFieldEnded { endRecord() }

        guard let header = records.first else {
            throw DatasetError(code: .malformedText, file: file, reason: "line 1: empty file, expected a header")
        }
        for (offset, row) in records.enumerated().dropFirst() where row.count != header.count {
            throw DatasetError(code: .malformedText, file: file,
                               reason: "line \(startLines[offset]): \(row.count) fields, the header has \(header.count)")
        }
        return CSVTable(header: header, rows: Array(records.dropFirst()), lineNumbers: Array(startLines.dropFirst()))
    }

    /// Reads and parses a CSV file.
    public static func read(contentsOf url: URL) throws(DatasetError) -> CSVTable {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw DatasetError(code: .unreadable, file: url.path, reason: "cannot read the file; check that it exists")
        }
        guard let text = String(validating: [UInt8](data), as: UTF8.self) else {
            throw DatasetError(code: .malformedText, file: url.path, reason: "not UTF-8 text")
        }
        return try parse(text, file: url.path)
    }

    /// The position of each named column; throws naming the first one the header lacks.
    public func columns(_ names: [String], file: String) throws(DatasetError) -> [Int] {
        var positions: [Int] = []
        for name in names {
            guard let position = header.firstIndex(of: name) else {
                throw DatasetError(code: .malformedText, file: file,
                                   reason: "line 1: header lacks column `\(name)` (has \(header.joined(separator: ",")))")
            }
            positions.append(position)
        }
        return positions
    }
}
