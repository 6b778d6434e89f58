/// Why labels for recognition could not be read: which file, what kind of problem, and what to do about it.
///
/// Reasons for text files name the 1-based line, so a person can open the file at the right place.
public struct RecognitionError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of problem; extensible so that callers can match on it without parsing messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file does not exist or cannot be read.
        public static let unreadable = Code("unreadable")
        /// A line does not follow the file's format (field count, header, encoding).
        public static let malformedText = Code("malformedText")
        /// An image is labelled twice.
        public static let duplicateEntry = Code("duplicateEntry")
    }

    public var code: Code
    /// The file involved, as given by the caller.
    public var file: String
    /// What is wrong and, where possible, how to fix it.
    public var reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason) [\(code)]" }
}
