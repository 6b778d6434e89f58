import LandmarkImage

/// Something that turns one photograph into one global descriptor.
///
/// Every descriptor the system offers — the weight-free baseline now, the CNN descriptors of METHODS.md §2
/// later — plugs into indexing, search and evaluation through this protocol. Descriptors are compared by
/// inner product, so an extractor returns an L2-normalised vector.
public protocol GlobalDescriptorExtractor: Sendable {
    /// A stable name stored with every index, so that a query is described the same way as the index.
    var name: String { get }
    /// Length of every vector `describe` returns.
    var dimension: Int { get }
    /// The longer image side the extractor works at; the pipeline resizes to it before calling `describe`,
    /// which lets the decoder and resizer do the expensive work once per image.
    var inputSize: Int { get }
    /// Describes an image already resized to at most `inputSize` on its longer side.
    func describe(_ image: RGBImage) throws(DescriptorError) -> [Float]
}

/// Why a descriptor could not be computed for an image.
public struct DescriptorError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What went wrong, extensible without breaking callers that switch over the known codes.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let rawValue: String
        /// The image is too small to carry any structure (e.g. 1×1).
        public static let imageTooSmall = Code(rawValue: "image too small")
        /// No extractor has the requested name.
        public static let unknownDescriptor = Code(rawValue: "unknown descriptor")
        public var description: String { rawValue }
    }

    public let code: Code
    public let reason: String

    public init(code: Code, reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { "\(code): \(reason)" }
}

/// Looks extractors up by the names users type and indexes store.
public enum GlobalDescriptorRegistry {
    /// The descriptor used when none is named.
    public static let defaultName = GradientColourHistogramBaseline.name

    /// Names users may pass to `--descriptor`, with a one-line summary each.
    public static let available: [(name: String, summary: String)] = [
        (GradientColourHistogramBaseline.name,
         "weight-free baseline: spatial gradient-orientation + colour histograms + tiny image"),
    ]

    /// Returns the extractor with that name (aliases: "baseline").
    public static func extractor(named name: String) throws(DescriptorError) -> any GlobalDescriptorExtractor {
        switch name.lowercased() {
        case "baseline", GradientColourHistogramBaseline.name:
            return GradientColourHistogramBaseline()
        default:
            let known = available.map(\.name).joined(separator: ", ")
            throw DescriptorError(code: .unknownDescriptor,
                                  reason: "no descriptor named '\(name)'; available: \(known)")
        }
    }
}
