import Foundation

/// Why a pipeline step (indexing, search, evaluation) failed, naming the file involved.
///
/// Library errors (image decoding, descriptor store, dataset readers) are wrapped with the step's
/// context so that the front ends can print one actionable line.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, extensible without breaking callers that switch over the known codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// A directory or file the user named does not exist or cannot be read.
        public static let inputNotFound = Code(rawValue: "input not found")
        /// An index directory holds something unexpected (wrong descriptor, damaged manifest or store).
        public static let invalidIndex = Code(rawValue: "invalid index")
        /// A dataset could not be read.
        public static let invalidDataset = Code(rawValue: "invalid dataset")
        /// Writing an output failed.
        public static let writeFailed = Code(rawValue: "write failed")
        /// The request cannot be carried out as asked (e.g. nothing to index).
        public static let invalidRequest = Code(rawValue: "invalid request")
        /// Another process is writing the index (`IndexLock`); retry when it has finished.
        public static let indexBusy = Code(rawValue: "index busy")
        public var description: String { rawValue }
    }

    public let code: Code
    /// The file or directory concerned, as the user named it.
    public let file: String
    public let reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { file.isEmpty ? reason : "\(file): \(reason)" }
}
