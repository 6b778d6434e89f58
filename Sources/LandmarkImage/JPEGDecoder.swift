import CTurboJPEG

/// JPEG decoding through the TurboJPEG API, which reports errors by return code (no setjmp/longjmp in Swift).
///
/// With default flags TurboJPEG uses the same accurate integer IDCT and "fancy" chroma upsampling as PIL's
/// libjpeg decoder, so the output matches PIL's sample for sample when both link the same libjpeg-turbo.
enum JPEGDecoder {
    static func decode(_ bytes: [UInt8], name: String, options: ImageDecodingOptions) throws(ImageError) -> RGBImage {
        guard let handle = tjInitDecompress() else {
            throw ImageError(code: .corrupt, file: name, reason: "cannot initialise the JPEG decoder")
        }
        defer { tjDestroy(handle) }

        var width: Int32 = 0, height: Int32 = 0, subsampling: Int32 = 0, colourspace: Int32 = 0
        let headerStatus = bytes.withUnsafeBufferPointer { buffer in
            tjDecompressHeader3(handle, buffer.baseAddress, UInt(buffer.count), &width, &height, &subsampling, &colourspace)
        }
        if headerStatus != 0 {
            throw classify(handle: handle, bytes: bytes, name: name, duringHeader: true)
        }
        guard width > 0, height > 0 else {
            // TurboJPEG reports success with a 0×0 size when the data ends before the frame header.
            if !containsFrameHeader(bytes) {
                throw ImageError(code: .truncated, file: name,
                                 reason: "truncated JPEG data (the file ends before the frame header)")
            }
            throw ImageError(code: .corrupt, file: name, reason: "corrupt JPEG header (image size \(width)×\(height))")
        }
        let pixelCount = Int(width) * Int(height)
        guard pixelCount <= options.maximumPixelCount else {
            throw ImageError(code: .tooLarge, file: name,
                             reason: "image is \(width)×\(height) = \(pixelCount) pixels, over the limit of \(options.maximumPixelCount) (possible decompression bomb)")
        }

        let isCMYK = colourspace == Int32(TJCS_CMYK.rawValue) || colourspace == Int32(TJCS_YCCK.rawValue)
        let channels = isCMYK ? 4 : 3
        let pixelFormat = isCMYK ? Int32(TJPF_CMYK.rawValue) : Int32(TJPF_RGB.rawValue)
        (width, height) = scaledSize(width: width, height: height, options: options)
        let outputCount = Int(width) * Int(height)
        var decoded = [UInt8](repeating: 0, count: outputCount * channels)
        let status = bytes.withUnsafeBufferPointer { source in
            decoded.withUnsafeMutableBufferPointer { destination in
                tjDecompress2(handle, source.baseAddress, UInt(source.count), destination.baseAddress,
                              width, 0, height, pixelFormat, 0)
            }
        }
        // A warning (e.g. premature end of data) still returns -1: the decoder filled the missing part with grey,
        // and such an image must not be indexed as if it were whole.
        if status != 0 {
            throw classify(handle: handle, bytes: bytes, name: name, duringHeader: false)
        }
        if isCMYK {
            decoded = adobeCMYKToRGB(decoded, pixelCount: outputCount)
        }
        return RGBImage(width: Int(width), height: Int(height), pixels: decoded)
    }

    /// The size to decode at, when the caller will shrink the image: for a large image
    /// (`ImageDecodingOptions.fullDecodePixelLimit`) the smallest DCT scale covering the target, so memory
    /// follows the need; otherwise 1/2, 1/4 or 1/8 when that covers the target times the gap
    /// (`reducedScaleDecoding`), else the full size.
    static func scaledSize(width: Int32, height: Int32, options: ImageDecodingOptions) -> (Int32, Int32) {
        guard let target = options.targetLongerSide, target > 0 else { return (width, height) }
        guard Int(width) * Int(height) > options.fullDecodePixelLimit else {
            guard options.reducedScaleDecoding else { return (width, height) }
            // PIL's thumbnail((T, T)) drafts a (gap·T)² box: the scale is the smaller of the two sides ÷ gap·T,
            // rounded down to 8, 4 or 2 (so a panorama's short side keeps its pixels); sizes round up.
            let quotient = Int(min(width, height)) / (target * max(1, options.reducingGap))
            guard let denominator = [8, 4, 2].first(where: { quotient >= $0 }) else { return (width, height) }
            return (Int32((Int(width) + denominator - 1) / denominator), Int32((Int(height) + denominator - 1) / denominator))
        }
        var count: Int32 = 0
        guard let factors = tjGetScalingFactors(&count), count > 0 else { return (width, height) }
        // TJSCALED: ceil(dimension × num / denom).
        func scaled(_ dimension: Int32, _ factor: tjscalingfactor) -> Int32 {
            Int32((Int(dimension) * Int(factor.num) + Int(factor.denom) - 1) / Int(factor.denom))
        }
        func ratio(_ factor: tjscalingfactor) -> Double { Double(factor.num) / Double(factor.denom) }
        var reductions: [tjscalingfactor] = []
        for index in 0 ..< Int(count) where factors[index].num > 0 && factors[index].num < factors[index].denom {
            reductions.append(factors[index])
        }
        reductions.sort { ratio($0) < ratio($1) }
        for factor in reductions where max(scaled(width, factor), scaled(height, factor)) >= Int32(clamping: target) {
            return (scaled(width, factor), scaled(height, factor))
        }
        return (width, height)
    }

    /// PIL reads 4-channel JPEGs as Adobe (inverted) CMYK and converts to RGB as `R = K' - C'·K'/255` on the
    /// inverted values, with its rounding division by 255; this reproduces it on the stored values.
    static func adobeCMYKToRGB(_ cmyk: [UInt8], pixelCount: Int) -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: pixelCount * 3)
        cmyk.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { destination in
                for index in 0..<pixelCount {
                    let key = Int32(source[index * 4 + 3])  // = 255 - K in PIL's (inverted) terms
                    for channel in 0..<3 {
                        let ink = 255 - Int32(source[index * 4 + channel])
                        let product = ink &* key &+ 128
                        let scaled = ((product >> 8) &+ product) >> 8
                        destination[index * 3 + channel] = UInt8(clamping: key - scaled)
                    }
                }
            }
        }
        return rgb
    }

    private static func classify(handle: tjhandle, bytes: [UInt8], name: String, duringHeader: Bool) -> ImageError {
        let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
        let lowered = message.lowercased()
        // libjpeg pads missing data with a fake end marker and warns, but the fatal error it then often hits
        // (e.g. a cut-off Huffman table between progressive scans) hides that warning; so also look for the
        // end-of-image marker ourselves.
        if lowered.contains("premature end") || lowered.contains("no more data")
            || (duringHeader && !containsFrameHeader(bytes)) || !containsEndOfImage(bytes) {
            let detail = lowered.contains("premature end of data segment") ? "premature end of data segment" : message
            return ImageError(code: .truncated, file: name, reason: "truncated JPEG data (\(detail))")
        }
        if (lowered.contains("unsupported") && !lowered.contains("marker")) || lowered.contains("not supported")
            || lowered.contains("precision") {
            return ImageError(code: .unsupportedFormat, file: name, reason: "unsupported JPEG variant (\(message))")
        }
        return ImageError(code: .corrupt, file: name, reason: "corrupt JPEG data (\(message))")
    }

    /// Whether an end-of-image marker follows the first scan. In entropy-coded data 0xFF is always stuffed or
    /// a restart marker, so FF D9 there is the real end; embedded EXIF thumbnails come before the first scan.
    private static func containsEndOfImage(_ bytes: [UInt8]) -> Bool {
        var index = 2
        while index + 3 < bytes.count {
            guard bytes[index] == 0xFF else { return true }  // not a well-formed marker walk: no verdict
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            if marker == 0xD9 { return true }
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            if marker == 0xDA {
                var scan = index + 2 + length
                while scan + 1 < bytes.count {
                    if bytes[scan] == 0xFF && bytes[scan + 1] == 0xD9 { return true }
                    scan += 1
                }
                return false
            }
            index += 2 + length
        }
        return false
    }

    /// Whether a start-of-frame marker is present: a header error in a file without one means the file ends too soon.
    private static func containsFrameHeader(_ bytes: [UInt8]) -> Bool {
        var index = 2
        while index + 3 < bytes.count {
            guard bytes[index] == 0xFF else { return false }
            let marker = bytes[index + 1]
            if marker == 0xFF { index += 1; continue }
            if (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC { return true }
            if marker == 0xD9 || marker == 0xDA { return false }
            let length = Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            index += 2 + length
        }
        return false
    }
}
