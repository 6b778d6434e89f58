/// A descriptor store could not be read or written. Names the file and says what to do.
public struct DescriptorStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible, compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let notFound = Code("notFound")
        /// The file does not start with the store's magic bytes: not a descriptor store.
        public static let badMagic = Code("badMagic")
        /// Written by a newer (or unknown) version of the format.
        public static let unsupportedVersion = Code("unsupportedVersion")
        public static let unsupportedElementType = Code("unsupportedElementType")
        /// The file is shorter than its header says (an interrupted copy or write).
        public static let truncated = Code("truncated")
        /// The content does not match the stored checksum (on-disk corruption).
        public static let checksumMismatch = Code("checksumMismatch")
        /// Internally inconsistent header or sections.
        public static let corrupt = Code("corrupt")
        public static let dimensionMismatch = Code("dimensionMismatch")
        public static let elementTypeMismatch = Code("elementTypeMismatch")
        public static let metadataMismatch = Code("metadataMismatch")
        /// The number of identifiers differs from the number of descriptors.
        public static let countMismatch = Code("countMismatch")
        /// The operating system refused a read, write, map or rename.
        public static let io = Code("io")
    }

    public let code: Code
    /// Path of the file involved.
    public let file: String
    public let reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(code): \(reason)" }
}
