import Foundation

/// The parts of a `multipart/form-data` body (RFC 7578), as browsers and curl `-F` send them.
///
/// Only what form uploads use is read: each part's `Content-Disposition` name and filename and its
/// `Content-Type`; the body is kept as bytes. Anything malformed is a `ServiceError` 400 that says what
/// is wrong, never a crash: the parser indexes only within the bytes it was given.
public struct MultipartForm: Sendable {
    public struct Part: Sendable {
        public var name: String
        public var filename: String?
        public var contentType: String?
        public var body: [UInt8]
    }

    public var parts: [Part]

    /// The first part named `name`.
    public func part(named name: String) -> Part? { parts.first { $0.name == name } }

    /// The boundary of a `multipart/form-data; boundary=…` content type, nil for other types.
    public static func boundary(ofContentType contentType: String) -> String? {
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard let type = fields.first, type.lowercased() == "multipart/form-data" else { return nil }
        for field in fields.dropFirst() {
            let pair = field.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }

    /// Parses `body` cut by `boundary`.
    /// - Throws: `ServiceError` 400 for a missing or unterminated boundary, a part without headers or
    ///   without a `form-data` name, or more than `maximumParts` parts.
    public init(body: [UInt8], boundary: String, maximumParts: Int = 16) throws(ServiceError) {
        guard !boundary.isEmpty, boundary.utf8.count <= 70 else {
            throw .badRequest("multipart boundary must be 1 to 70 characters")
        }
        let delimiter = Array("--\(boundary)".utf8)
        guard var position = Self.find(delimiter, in: body, from: 0) else {
            throw .badRequest("multipart body does not contain its boundary")
        }
        position += delimiter.count
        var parts: [Part] = []
        while true {
            // After a delimiter: "--" closes the body, CRLF starts a part.
            if Self.hasPrefix([45, 45], in: body, at: position) { break }
            guard Self.hasPrefix([13, 10], in: body, at: position) else {
                throw .badRequest("multipart delimiter is not followed by a line break")
            }
            position += 2
            guard let headerEnd = Self.find([13, 10, 13, 10], in: body, from: position) else {
                throw .badRequest("multipart part has no end of headers")
            }
            let headers = String(decoding: body[position ..< headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let next = Self.find([13, 10] + delimiter, in: body, from: contentStart) else {
                throw .badRequest("multipart body ends without its closing boundary")
            }
            parts.append(try Self.part(headers: headers, body: Array(body[contentStart ..< next])))
            guard parts.count <= maximumParts else { throw .badRequest("more than \(maximumParts) multipart parts") }
            position = next + 2 + delimiter.count
        }
        self.parts = parts
    }

    private static func part(headers: String, body: [UInt8]) throws(ServiceError) -> Part {
        var name: String?, filename: String?, contentType: String?
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let field = pair[0].trimmingCharacters(in: .whitespaces).lowercased()
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            if field == "content-type" { contentType = value }
            guard field == "content-disposition" else { continue }
            for parameter in value.split(separator: ";").dropFirst() {
                let assignment = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard assignment.count == 2 else { continue }
                var text = assignment[1]
                if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
                switch assignment[0].lowercased() {
                case "name": name = text
                case "filename": filename = text
                default: break
                }
            }
        }
        guard let name else { throw .badRequest("multipart part without a Content-Disposition name") }
        return Part(name: name, filename: filename, contentType: contentType, body: body)
    }

    private static func hasPrefix(_ prefix: [UInt8], in bytes: [UInt8], at position: Int) -> Bool {
        guard position >= 0, position + prefix.count <= bytes.count else { return false }
        return bytes[position ..< position + prefix.count].elementsEqual(prefix)
    }

    /// The first position at or after `start` where `needle` occurs.
    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard let first = needle.first, start >= 0, haystack.count - needle.count >= start else { return nil }
        return haystack.withUnsafeBufferPointer { bytes -> Int? in
            var position = start
            let last = bytes.count - needle.count
            while position <= last {
                guard let found = bytes[position ... last].firstIndex(of: first) else { return nil }
                if bytes[found ..< found + needle.count].elementsEqual(needle) { return found }
                position = found + 1
            }
            return nil
        }
    }
}
