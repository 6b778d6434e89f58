/// Why an image could not be read, decoded or encoded, with the file involved.
///
/// The code lets callers decide (skip a truncated download, stop on `.unreadable`); the reason tells a person
/// what to do about it.
public struct ImageError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of failure. Extensible: new codes are added as static constants.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        /// Stable identifier, also used in fixture manifests and logs.
        public let rawValue: String
        /// Creates a code; prefer the static constants.
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file has zero bytes.
        public static let empty = Code("empty")
        /// The data ends before the image does (an interrupted download or copy).
        public static let truncated = Code("truncated")
        /// The data is the right format but damaged (bad checksums, invalid compressed data or headers).
        public static let corrupt = Code("corrupt")
        /// The bytes are not an image at all (text, HTML, random data).
        public static let notAnImage = Code("notAnImage")
        /// A recognised image format that this module does not decode (GIF, BMP, TIFF, WebP, HEIC, …).
        public static let unsupportedFormat = Code("unsupportedFormat")
        /// The header claims more pixels than `ImageDecodingOptions.maximumPixelCount` allows.
        public static let tooLarge = Code("tooLarge")
        /// The file could not be read (missing, a directory, no permission).
        public static let unreadable = Code("unreadable")
        /// The encoder failed (invalid image or library failure).
        public static let encodingFailed = Code("encodingFailed")
    }

    /// What went wrong.
    public let code: Code
    /// The file (path or name) the error is about.
    public let file: String
    /// A human-readable explanation naming the cause.
    public let reason: String

    /// Creates an error about `file`.
    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    /// `"<file>: <reason>"`, e.g. `photo.jpg: truncated JPEG data (premature end of data segment)`.
    public var description: String { "\(file): \(reason)" }
}
