import Foundation

/// Which CNN global descriptor to compute (METHODS.md §2): backbone weights, input size, scales,
/// pooling and optional whitening.
///
/// Its `name` is a canonical, human-readable spec such as
/// `cnn model=lite2 size=512 scales=1,0.7071,0.5 pooling=gem:3`, stored in every index so that queries
/// are described exactly like the index; `init(name:)` parses it back.
public struct CNNDescriptorConfiguration: Sendable, Equatable, Hashable {
    /// `lite0`, `lite2` (EfficientNet-Lite with ImageNet weights, from the model cache), or the path of a
    /// checkpoint (`.pth` in zip or legacy format, `.safetensors`), stored absolute.
    public var model: String
    /// Longer image side fed to the network (cirtorch's `imsize`).
    public var size: Int
    /// Scale factors of the multi-scale extraction; `[1]` is single-scale.
    public var scales: [Double]
    /// Pooling; `nil` takes the checkpoint's own (cirtorch meta) and otherwise GeM with p = 3.
    public var pooling: GlobalPooling?
    /// A whitening file made by `landmark whiten learn`, stored absolute.
    public var whitening: String?
    /// Keep only the first dimensions after whitening (PCA reduction); `nil` keeps all.
    public var dimensions: Int?

    public static let prefix = "cnn"
    public static let defaultModel = "lite2"
    public static let defaultSize = 512
    /// The scales of cirtorch's multi-scale evaluation: 1, 1/√2, 1/2.
    public static let multiScale: [Double] = [1, 1 / 2.0.squareRoot(), 0.5]

    public init(model: String = CNNDescriptorConfiguration.defaultModel, size: Int = CNNDescriptorConfiguration.defaultSize,
                scales: [Double] = [1], pooling: GlobalPooling? = nil, whitening: String? = nil, dimensions: Int? = nil) {
        self.model = model
        self.size = size
        self.scales = scales
        self.pooling = pooling
        self.whitening = whitening
        self.dimensions = dimensions
    }

    /// The canonical spec of this configuration.
    public var name: String {
        var parts = [Self.prefix, "model=\(Self.escape(model))", "size=\(size)",
                     "scales=" + scales.map { Self.format($0) }.joined(separator: ",")]
        if let pooling { parts.append("pooling=\(Self.format(pooling))") }
        if let whitening { parts.append("whitening=\(Self.escape(whitening))") }
        if let dimensions { parts.append("dimensions=\(dimensions)") }
        return parts.joined(separator: " ")
    }

    /// Parses a spec written by `name`; unknown keys or malformed values are errors, so that an index
    /// never silently gets a different descriptor.
    public init(name: String) throws(DescriptorError) {
        let parts = name.split(separator: " ").map(String.init)
        guard parts.first == Self.prefix else {
            throw DescriptorError(code: .invalidConfiguration, reason: "'\(name)' is not a CNN descriptor spec")
        }
        self.init()
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "=") else {
                throw DescriptorError(code: .invalidConfiguration, reason: "'\(part)' in '\(name)' is not key=value")
            }
            let key = String(part[..<equals]), value = String(part[part.index(after: equals)...])
            switch key {
            case "model": model = Self.unescape(value)
            case "size":
                guard let number = Int(value), number >= 32 else {
                    throw DescriptorError(code: .invalidConfiguration, reason: "size must be an integer ≥ 32, not '\(value)'")
                }
                size = number
            case "scales": scales = try Self.parseScales(value)
            case "pooling": pooling = try Self.parsePooling(value)
            case "whitening": whitening = Self.unescape(value)
            case "dimensions":
                guard let number = Int(value), number > 0 else {
                    throw DescriptorError(code: .invalidConfiguration, reason: "dimensions must be a positive integer, not '\(value)'")
                }
                dimensions = number
            default:
                throw DescriptorError(code: .invalidConfiguration, reason: "unknown key '\(key)' in '\(name)'")
            }
        }
    }

    /// Parses `1,0.707,0.5` (each scale in (0, 2]).
    public static func parseScales(_ text: String) throws(DescriptorError) -> [Double] {
        var scales: [Double] = []
        for item in text.split(separator: ",") {
            guard let scale = Double(item.trimmingCharacters(in: .whitespaces)), scale > 0, scale <= 2 else {
                throw DescriptorError(code: .invalidConfiguration, reason: "scales must be numbers in (0, 2], not '\(text)'")
            }
            scales.append(scale)
        }
        guard !scales.isEmpty else {
            throw DescriptorError(code: .invalidConfiguration, reason: "give at least one scale")
        }
        return scales
    }

    /// Parses `gem`, `gem:2.5`, `mac`, `spoc`, `rmac`.
    public static func parsePooling(_ text: String) throws(DescriptorError) -> GlobalPooling {
        let pieces = text.lowercased().split(separator: ":", maxSplits: 1).map(String.init)
        var p: Float?
        if pieces.count == 2 {
            guard let value = Float(pieces[1]), value > 0, value.isFinite else {
                throw DescriptorError(code: .invalidConfiguration, reason: "GeM p must be a positive number, not '\(pieces[1])'")
            }
            p = value
        }
        guard let name = pieces.first, let pooling = GlobalPooling(name: name, p: p) else {
            throw DescriptorError(code: .invalidConfiguration, reason: "unknown pooling '\(text)' (mac, spoc, gem[:p], rmac)")
        }
        return pooling
    }

    static func format(_ pooling: GlobalPooling) -> String {
        if case .gem(let p) = pooling { return "gem:" + format(Double(p)) }
        return pooling.name
    }

    static func format(_ value: Double) -> String {
        var text = String(format: "%.4f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Paths may hold spaces, which separate the spec's fields.
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: " ", with: "%20")
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "%20", with: " ").replacingOccurrences(of: "%25", with: "%")
    }
}
