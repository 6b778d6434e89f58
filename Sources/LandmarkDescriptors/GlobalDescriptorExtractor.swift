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
    /// The same, allowed to use `threads` threads of its own for this one image (the caller runs
    /// `cores / threads` images at once). Extractors without inner parallelism ignore it.
    func describe(_ image: RGBImage, threads: Int) throws(DescriptorError) -> [Float]
}

extension GlobalDescriptorExtractor {
    public func describe(_ image: RGBImage, threads: Int) throws(DescriptorError) -> [Float] {
        try describe(image)
    }
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
        /// A descriptor spec or option is malformed or inconsistent (e.g. whitening of the wrong dimension).
        public static let invalidConfiguration = Code(rawValue: "invalid descriptor configuration")
        /// The network weights cannot be found or read.
        public static let modelNotFound = Code(rawValue: "model not found")
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
    /// The descriptor used when none is named: EfficientNet-Lite2 (ImageNet weights) with GeM pooling.
    public static var defaultName: String { CNNDescriptorConfiguration(pooling: .gem(p: 3)).name }

    /// Kinds of descriptor users may pass to `--descriptor`, with a one-line summary each.
    public static let available: [(name: String, summary: String)] = [
        (CNNDescriptorConfiguration.prefix,
         "CNN global descriptor (default: EfficientNet-Lite2 ImageNet weights, GeM); see --model, --size, --scales, --pooling, --whitening"),
        (GradientColourHistogramBaseline.name,
         "weight-free baseline: spatial gradient-orientation + colour histograms + tiny image (alias: baseline)"),
    ]

    /// Returns the extractor a name or stored spec denotes: `baseline`, `baseline-gradient-colour`, or a
    /// CNN spec (`cnn model=… size=… …`, as `CNNDescriptorConfiguration.name` writes it; plain `cnn` is the default).
    public static func extractor(named name: String) throws(DescriptorError) -> any GlobalDescriptorExtractor {
        switch name.lowercased() {
        case "baseline", GradientColourHistogramBaseline.name:
            return GradientColourHistogramBaseline()
        default:
            if name.hasPrefix(CNNDescriptorConfiguration.prefix) {
                return try CNNGlobalDescriptor(CNNDescriptorConfiguration(name: name))
            }
            let known = available.map(\.name).joined(separator: ", ")
            throw DescriptorError(code: .unknownDescriptor,
                                  reason: "no descriptor named '\(name)'; available: \(known)")
        }
    }
}
