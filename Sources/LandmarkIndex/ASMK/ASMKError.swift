/// An ASMK vocabulary or index could not be trained, read or written. Names the file (or the
/// operation) and says what to do.
public struct ASMKError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible, compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The arguments cannot produce a result (e.g. fewer training descriptors than words).
        public static let invalidArgument = Code("invalidArgument")
        /// Training data contains NaN or infinity.
        public static let nonFinite = Code("nonFinite")
        public static let notFound = Code("notFound")
        /// The file does not start with the expected magic bytes: not this kind of ASMK file.
        public static let badMagic = Code("badMagic")
        /// Written by a newer (or unknown) version of the format.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The file ends before its header says it should (an interrupted copy or write).
        public static let truncated = Code("truncated")
        /// The content does not match the stored checksum (on-disk corruption).
        public static let checksumMismatch = Code("checksumMismatch")
        /// Internally inconsistent sizes or identifiers.
        public static let corrupt = Code("corrupt")
        /// The operating system refused a read, write or rename.
        public static let io = Code("io")
    }

    public let code: Code
    /// Path of the file involved, or the name of the operation for errors not about a file.
    public let file: String
    public let reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(code): \(reason)" }
}
