import Foundation

/// Limits and behaviour of `ImageDecoder`.
public struct ImageDecodingOptions: Sendable {
    /// Decompression-bomb guard: images whose header claims more pixels are rejected before any pixel memory is
    /// allocated. The default, 178 956 970, is twice PIL's `MAX_IMAGE_PIXELS`, where PIL itself raises.
    public var maximumPixelCount: Int
    /// Rotate/flip by the EXIF Orientation tag, as PIL's `ImageOps.exif_transpose`, so the pixels are upright.
    public var appliesEXIFOrientation: Bool
    /// Above this many pixels, a JPEG whose caller says how large it needs it (`targetLongerSide`) is
    /// decoded at the smallest of TurboJPEG's DCT scales (1/8 … 7/8) that still covers that size, so
    /// memory follows the size needed rather than the size the header claims (a 13000 × 13000 JPEG
    /// shrunk to 512 px costs 8 MB instead of 500 MB). Ordinary photographs stay under it and are
    /// decoded in full, as PIL decodes them, so their descriptors do not change.
    public var fullDecodePixelLimit: Int
    /// The longer side the caller will shrink the image to, when it will (nil: the full image is needed,
    /// e.g. for query boxes given in its pixels).
    public var targetLongerSide: Int?
    /// Decode a JPEG at 1/2, 1/4 or 1/8 of its size when both sides still cover `reducingGap` × `targetLongerSide`,
    /// as PIL's `thumbnail` drafts (scale = shorter side ÷ (gap × target), rounded down to 8, 4 or 2). The DCT
    /// does that part of the shrinking, so a 12-Mpixel photograph costs a quarter to a sixteenth of its full
    /// decode and the resize has less to do. The pixels are libjpeg-turbo's scaled IDCT, equal to PIL's
    /// draft decoding; after the resize they differ slightly from a full decode's.
    public var reducedScaleDecoding: Bool
    /// How many times the target the reduced decode keeps at least. 2, as PIL's `thumbnail` drafts (its
    /// `reducing_gap`): the resize that follows still averages over two or more decoded pixels, and the
    /// photos of both benchmark sets are decoded in full (measured: with a gap of 1 on the longer side the Lite2 mAP
    /// fell by 0.35 points on devset and 0.24 on trainset).
    public var reducingGap: Int

    /// Creates options; the defaults suit photographs from cameras and the web.
    public init(maximumPixelCount: Int = 178_956_970, appliesEXIFOrientation: Bool = true,
                fullDecodePixelLimit: Int = 40_000_000, targetLongerSide: Int? = nil, reducedScaleDecoding: Bool = true,
                reducingGap: Int = 2) {
        self.maximumPixelCount = maximumPixelCount
        self.appliesEXIFOrientation = appliesEXIFOrientation
        self.fullDecodePixelLimit = fullDecodePixelLimit
        self.targetLongerSide = targetLongerSide
        self.reducedScaleDecoding = reducedScaleDecoding
        self.reducingGap = max(1, reducingGap)
    }

    /// The same options for a caller that will shrink the image to `longerSide`.
    public func shrinking(to longerSide: Int) -> ImageDecodingOptions {
        var options = self
        options.targetLongerSide = longerSide
        return options
    }
}

/// Decodes JPEG and PNG files into upright 8-bit RGB, matching PIL's `Image.open(...).convert("RGB")`.
///
/// The format is taken from the file's signature, never from its name. Every failure is an `ImageError`
/// naming the file and the reason; nothing is printed.
public enum ImageDecoder {
    /// Reads and decodes the file at `url`.
    public static func decode(contentsOf url: URL, options: ImageDecodingOptions = .init()) throws(ImageError) -> RGBImage {
        let path = url.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ImageError(code: .unreadable, file: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else {
            throw ImageError(code: .unreadable, file: path, reason: "is a directory, not an image file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            let reason = FileManager.default.isReadableFile(atPath: path)
                ? "cannot be read (\(error.localizedDescription))" : "cannot be read (permission denied)"
            throw ImageError(code: .unreadable, file: path, reason: reason)
        }
        return try decode([UInt8](data), name: path, options: options)
    }

    /// "image/jpeg" or "image/png" when `bytes` start with that format's signature (the test decoding
    /// uses), nil for anything else: what a service checks before it queues an upload.
    public static func mediaType(of bytes: [UInt8]) -> String? {
        switch ImageFormat.sniff(bytes) {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        default: nil
        }
    }

    /// Decodes an in-memory file; `name` is only used in errors.
    public static func decode(_ bytes: [UInt8], name: String, options: ImageDecodingOptions = .init()) throws(ImageError) -> RGBImage {
        switch ImageFormat.sniff(bytes) {
        case .empty:
            throw ImageError(code: .empty, file: name, reason: "empty file (0 bytes)")
        case .jpeg:
            var image = try JPEGDecoder.decode(bytes, name: name, options: options)
            if options.appliesEXIFOrientation, let orientation = EXIFOrientation.fromJPEG(bytes) {
                image = image.applying(orientation)
            }
            return image
        case .png:
            var image = try PNGDecoder.decode(bytes, name: name, options: options)
            if options.appliesEXIFOrientation, let orientation = EXIFOrientation.fromPNG(bytes) {
                image = image.applying(orientation)
            }
            return image
        case .truncatedSignature(let format):
            throw ImageError(code: .truncated, file: name,
                             reason: "truncated \(format) data (only \(bytes.count) bytes, the file ends inside the header)")
        case .unsupported(let format):
            throw ImageError(code: .unsupportedFormat, file: name,
                             reason: "unsupported image format \(format) (only JPEG and PNG are decoded; convert it first)")
        case .notAnImage(let what):
            throw ImageError(code: .notAnImage, file: name, reason: "not an image: \(what)")
        }
    }
}

/// What a file's first bytes say it is.
enum ImageFormat: Equatable {
    case empty
    case jpeg
    case png
    case truncatedSignature(String)
    case unsupported(String)
    case notAnImage(String)

    static let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func sniff(_ bytes: [UInt8]) -> ImageFormat {
        if bytes.isEmpty { return .empty }
        func starts(_ prefix: [UInt8], at offset: Int = 0) -> Bool {
            guard bytes.count >= offset + prefix.count else { return false }
            for index in 0..<prefix.count where bytes[offset + index] != prefix[index] { return false }
            return true
        }
        func ascii(_ text: String, at offset: Int = 0) -> Bool { starts(Array(text.utf8), at: offset) }

        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.count < 3 && starts(Array([0xFF, 0xD8, 0xFF].prefix(bytes.count))) { return .truncatedSignature("JPEG") }
        if starts(pngSignature) { return .png }
        if bytes.count < pngSignature.count && starts(Array(pngSignature.prefix(bytes.count))) {
            return .truncatedSignature("PNG")
        }
        if ascii("GIF87a") || ascii("GIF89a") { return .unsupported("GIF") }
        if ascii("BM") && bytes.count >= 14 { return .unsupported("BMP") }
        if starts([0x49, 0x49, 0x2A, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2A]) { return .unsupported("TIFF") }
        if starts([0x49, 0x49, 0x2B, 0x00]) || starts([0x4D, 0x4D, 0x00, 0x2B]) { return .unsupported("BigTIFF") }
        if ascii("RIFF") && ascii("WEBP", at: 8) { return .unsupported("WebP") }
        if ascii("ftyp", at: 4) && bytes.count >= 12 {
            let brand = String(decoding: bytes[8..<12], as: UTF8.self)
            switch brand {
            case "avif", "avis": return .unsupported("AVIF")
            case "heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1": return .unsupported("HEIF/HEIC")
            case "crx ": return .unsupported("Canon CR3 raw")
            default: return .notAnImage("an ISO media file (brand '\(brand)'), e.g. a video")
            }
        }
        if starts([0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20]) || starts([0xFF, 0x4F, 0xFF, 0x51]) {
            return .unsupported("JPEG 2000")
        }
        if starts([0xFF, 0x0A]) || starts([0x00, 0x00, 0x00, 0x0C, 0x4A, 0x58, 0x4C, 0x20]) { return .unsupported("JPEG XL") }
        if ascii("8BPS") { return .unsupported("Photoshop PSD") }
        if ascii("qoif") { return .unsupported("QOI") }
        if starts([0x00, 0x00, 0x01, 0x00]) && bytes.count >= 22 { return .unsupported("ICO") }
        if ascii("%PDF") { return .notAnImage("a PDF document") }
        if starts([0x50, 0x4B, 0x03, 0x04]) { return .notAnImage("a ZIP archive") }
        if starts([0x1F, 0x8B]) { return .notAnImage("gzip-compressed data") }

        let head = String(decoding: bytes.prefix(512), as: UTF8.self).lowercased()
        let trimmed = head.drop(while: { $0.isWhitespace || $0 == "\u{FEFF}" })
        if trimmed.hasPrefix("<!doctype html") || trimmed.hasPrefix("<html") || head.contains("<html") {
            return .notAnImage("an HTML document (a web page saved instead of the image?)")
        }
        if trimmed.hasPrefix("<?xml") || trimmed.hasPrefix("<svg") {
            return head.contains("<svg") ? .unsupported("SVG") : .notAnImage("an XML document")
        }
        let sample = bytes.prefix(512)
        let printable = sample.filter { ($0 >= 0x20 && $0 < 0x7F) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }.count
        if printable == sample.count {
            return .notAnImage("text (starts with \"\(String(decoding: bytes.prefix(24), as: UTF8.self).debugDescriptionTrimmed)\")")
        }
        let signature = bytes.prefix(4).map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: " ")
        return .notAnImage("unrecognised signature \(signature)")
    }
}

private extension String {
    /// The text without surrounding quotes and with control characters escaped, for error messages.
    var debugDescriptionTrimmed: String {
        let quoted = debugDescription
        return String(quoted.dropFirst().dropLast())
    }
}
