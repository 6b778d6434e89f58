/// A checkpoint that could not be read or does not hold what a network needs: which file, what kind of
/// problem, and what to do about it.
public struct CheckpointError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The kind of problem; extensible so that callers can match on it without parsing messages.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file does not exist or cannot be read.
        public static let unreadable = Code("unreadable")
        /// The file is none of the formats read here (zip or legacy `.pth`, `.safetensors`), or uses a
        /// variant of one they do not support (compressed zip entries, big-endian data, a pickled module).
        public static let unsupportedFormat = Code("unsupportedFormat")
        /// The file's structures contradict each other: bad zip directory, garbage pickle, a tensor that
        /// reaches beyond its storage, offsets that overlap or disagree with a shape.
        public static let corrupt = Code("corrupt")
        /// The file ends before a structure it declares (directory, pickle, storage, header, data).
        public static let truncated = Code("truncated")
        /// A tensor a network asked for is not in the checkpoint.
        public static let missingTensor = Code("missingTensor")
        /// A tensor a network asked for has a different shape than the network expects.
        public static let shapeMismatch = Code("shapeMismatch")
        /// A tensor's element type cannot be converted to Float32 (complex, quantized, untyped storage).
        public static let unsupportedDataType = Code("unsupportedDataType")
        /// The checkpoint's metadata names an architecture the caller does not implement.
        public static let unknownArchitecture = Code("unknownArchitecture")
    }

    public var code: Code
    /// The checkpoint file involved, as given by the caller.
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
