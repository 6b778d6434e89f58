/// A pickle that could not be decoded: which file, what kind of problem, and where.
public struct PickleError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of problem; extensible so that callers can match on it without parsing messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file does not exist or cannot be read.
        public static let unreadable = Code("unreadable")
        /// The data ends before the pickle does (no STOP, or a length that runs past the end).
        public static let truncated = Code("truncated")
        /// The opcodes do not form a valid pickle: unknown opcode, stack underflow, wrong operand types.
        public static let malformed = Code("malformed")
        /// The pickle exceeds a safety limit (size, number of values, nesting, expansion of shared values).
        public static let limitExceeded = Code("limitExceeded")
        /// The pickle is valid but asks for a construct the interpreting reader does not trust.
        public static let refused = Code("refused")
    }

    public var code: Code
    /// The file involved, as given by the caller (`<memory>` for in-memory data).
    public var file: String
    /// What is wrong, with the byte offset where the decoder noticed it.
    public var reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason) [\(code)]" }
}

/// A failure inside the decoder before the file name is attached.
struct PickleFailure: Error {
    var code: PickleError.Code
    var message: String

    init(_ message: String, code: PickleError.Code = .malformed) {
        self.code = code
        self.message = message
    }

    func error(file: String) -> PickleError { PickleError(code: code, file: file, reason: message) }
}
