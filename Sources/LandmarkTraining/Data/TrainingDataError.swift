import Foundation

/// Why a training set, a tuple file or a training run's directory could not be used.
public struct TrainingDataError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case unreadable, malformed, missingImage, tooFewImages, incompatibleRun
    }

    public let code: Code
    /// The file or folder at fault.
    public let file: String
    public let reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
