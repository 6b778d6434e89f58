/// A failure of a numerical routine on the data it was given (not a programming mistake, which is
/// a precondition failure instead).
public struct LinearAlgebraError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible, compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The matrix is not symmetric positive definite (Cholesky failed at a pivot).
        public static let notPositiveDefinite = Code("notPositiveDefinite")
        /// An iterative LAPACK routine did not converge.
        public static let didNotConverge = Code("didNotConverge")
        /// LAPACK rejected an argument (reported with its position).
        public static let invalidArgument = Code("invalidArgument")
        /// The input contains NaN or infinity.
        public static let nonFinite = Code("nonFinite")
    }

    public let code: Code
    /// The routine that failed, e.g. "ssyevd".
    public let routine: String
    public let reason: String

    public init(code: Code, routine: String, reason: String) {
        self.code = code
        self.routine = routine
        self.reason = reason
    }

    public var description: String { "\(routine): \(code): \(reason)" }
}
