/// Why whitening could not be learned, written or loaded.
public struct WhiteningError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible, compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Fewer descriptors (or pairs) than the dimension needs for a full-rank covariance.
        public static let tooFewDescriptors = Code("tooFewDescriptors")
        /// The descriptor covariance has a zero (or numerically zero) eigenvalue, so PCA-whitening
        /// would divide by zero.
        public static let singularCovariance = Code("singularCovariance")
        /// The covariance of the matching pairs' differences is singular beyond what cirtorch's
        /// small diagonal loading repairs, e.g. every pair is two identical descriptors.
        public static let singularPairCovariance = Code("singularPairCovariance")
        /// A pair index lies outside the descriptor matrix, or the two index lists differ in length.
        public static let invalidPairs = Code("invalidPairs")
        /// A descriptor holds NaN or infinity.
        public static let nonFiniteDescriptors = Code("nonFiniteDescriptors")
        /// LAPACK failed (did not converge).
        public static let numericalFailure = Code("numericalFailure")
        /// The file could not be read or written.
        public static let io = Code("io")
        /// The file is not a whitening file (wrong magic number).
        public static let notWhiteningFile = Code("notWhiteningFile")
        /// The file was written by a newer format version.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The file ends before its declared contents do.
        public static let truncated = Code("truncated")
        /// The stored checksum does not match the contents.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The header is inconsistent (unknown kind, impossible sizes) or the contents are not finite.
        public static let corrupt = Code("corrupt")
    }

    public let code: Code
    /// The file involved, or nil when learning.
    public let file: String?
    public let reason: String

    public init(code: Code, file: String? = nil, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String {
        if let file { return "\(file): \(code): \(reason)" }
        return "whitening: \(code): \(reason)"
    }
}
