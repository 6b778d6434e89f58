/// A benchmark file that could not be read: which file, what kind of problem, and what to do about it.
///
/// Reasons for text files name the 1-based line, so a person can open the file at the right place.
public struct DatasetError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of problem; extensible so that callers can match on it without parsing messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file or directory does not exist or cannot be read.
        public static let unreadable = Code("unreadable")
        /// A text file (TSV, CSV) does not follow its format: header, field count, quoting.
        public static let malformedText = Code("malformedText")
        /// A row repeats an image or query that an earlier row already declared.
        public static let duplicateEntry = Code("duplicateEntry")
        /// A row refers to an image file that is not on disk.
        public static let missingFile = Code("missingFile")
        /// A pickle is truncated, corrupt, too large or uses a construct the safe reader refuses.
        public static let malformedPickle = Code("malformedPickle")
        /// The file parsed but its content does not have the structure the benchmark defines.
        public static let unexpectedContent = Code("unexpectedContent")
    }

    public var code: Code
    /// The file or directory involved, as given by the caller.
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
