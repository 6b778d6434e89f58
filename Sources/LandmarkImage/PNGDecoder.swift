import CPNG

/// PNG decoding through libpng's simplified `png_image` API, which reports errors in the struct instead of
/// longjmp-ing, so it is safe to call from Swift.
enum PNGDecoder {
    // libpng's format flags (the composite macros are not imported into Swift).
    static let formatFlagAlpha: UInt32 = 0x01
    static let formatFlagColour: UInt32 = 0x02
    static let formatFlagLinear: UInt32 = 0x04

    static func decode(_ bytes: [UInt8], name: String, options: ImageDecodingOptions) throws(ImageError) -> RGBImage {
        // Check IHDR ourselves first: libpng's own limit (1 000 000 per side) is not ours, and a bomb must be
        // reported as such, not as a libpng error.
        guard bytes.count >= 33 else {
            throw ImageError(code: .truncated, file: name, reason: "truncated PNG data (file ends inside the IHDR header)")
        }
        guard Array(bytes[12..<16]) == Array("IHDR".utf8) else {
            throw ImageError(code: .corrupt, file: name, reason: "corrupt PNG data (first chunk is not IHDR)")
        }
        let headerWidth = Int(bytes[16]) << 24 | Int(bytes[17]) << 16 | Int(bytes[18]) << 8 | Int(bytes[19])
        let headerHeight = Int(bytes[20]) << 24 | Int(bytes[21]) << 16 | Int(bytes[22]) << 8 | Int(bytes[23])
        guard headerWidth > 0, headerHeight > 0, headerWidth < 1 << 31, headerHeight < 1 << 31 else {
            throw ImageError(code: .corrupt, file: name,
                             reason: "corrupt PNG header (invalid image size \(headerWidth)×\(headerHeight))")
        }
        guard headerWidth * headerHeight <= options.maximumPixelCount else {
            throw ImageError(code: .tooLarge, file: name,
                             reason: "image is \(headerWidth)×\(headerHeight) = \(headerWidth * headerHeight) pixels, over the limit of \(options.maximumPixelCount) (possible decompression bomb)")
        }

        // libpng keeps a pointer to the input until finish_read, so both calls happen inside one buffer scope.
        let outcome = withoutColourManagement(bytes).withUnsafeBufferPointer { buffer in
            decodeValidated(buffer, name: name, options: options)
        }
        return try outcome.get()
    }

    private static func decodeValidated(_ buffer: UnsafeBufferPointer<UInt8>, name: String,
                                        options: ImageDecodingOptions) -> Result<RGBImage, ImageError> {
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        guard png_image_begin_read_from_memory(&image, buffer.baseAddress, buffer.count) != 0 else {
            return .failure(classify(image, name: name))
        }

        let width = Int(image.width), height = Int(image.height)
        guard width * height <= options.maximumPixelCount else {
            png_image_free(&image)
            return .failure(ImageError(code: .tooLarge, file: name,
                             reason: "image is \(width)×\(height) pixels, over the limit of \(options.maximumPixelCount)"))
        }
        // PIL's convert("RGB") drops alpha rather than compositing, so read RGBA when there is alpha and drop it.
        let hasAlpha = image.format & formatFlagAlpha != 0
        if !hasAlpha && image.format & formatFlagLinear != 0 {
            return finishSixteenBit(&image, width: width, height: height, name: name)
        }
        image.format = hasAlpha ? (formatFlagColour | formatFlagAlpha) : formatFlagColour
        // PIL ignores colour management; treat 16-bit samples as sRGB-encoded so libpng does not convert gamma.
        image.flags |= UInt32(PNG_IMAGE_FLAG_16BIT_sRGB)
        let channels = hasAlpha ? 4 : 3
        var decoded = [UInt8](repeating: 0, count: width * height * channels)
        let finished = decoded.withUnsafeMutableBufferPointer { destination in
            png_image_finish_read(&image, nil, destination.baseAddress, 0, nil)
        }
        guard finished != 0 else { return .failure(classify(image, name: name)) }
        png_image_free(&image)

        guard hasAlpha else { return .success(RGBImage(width: width, height: height, pixels: decoded)) }
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        decoded.withUnsafeBufferPointer { source in
            rgb.withUnsafeMutableBufferPointer { destination in
                for index in 0..<(width * height) {
                    destination[index * 3] = source[index * 4]
                    destination[index * 3 + 1] = source[index * 4 + 1]
                    destination[index * 3 + 2] = source[index * 4 + 2]
                }
            }
        }
        return .success(RGBImage(width: width, height: height, pixels: rgb))
    }

    /// 16-bit files without alpha: read the samples untouched (linear in, linear out: no gamma step, as the
    /// colour-management chunks are gone) and keep the high byte, which is what PIL does.
    private static func finishSixteenBit(_ image: inout png_image, width: Int, height: Int,
                                         name: String) -> Result<RGBImage, ImageError> {
        image.format = formatFlagColour | formatFlagLinear
        var wide = [UInt16](repeating: 0, count: width * height * 3)
        let finished = wide.withUnsafeMutableBufferPointer { destination in
            png_image_finish_read(&image, nil, destination.baseAddress, 0, nil)
        }
        guard finished != 0 else { return .failure(classify(image, name: name)) }
        png_image_free(&image)
        return .success(RGBImage(width: width, height: height, pixels: wide.map { UInt8(truncatingIfNeeded: $0 >> 8) }))
    }

    /// The file without gAMA, cHRM, sRGB and iCCP chunks. PIL ignores them, while libpng's simplified API would
    /// convert the samples (e.g. brighten a gAMA 1.0 file), so they are removed to decode the stored values.
    /// These chunks must precede the first IDAT, so only the chunks before it are inspected.
    static func withoutColourManagement(_ bytes: [UInt8]) -> [UInt8] {
        let ignored: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
        var kept: [Range<Int>] = [0..<8]
        var index = 8
        var removedAny = false
        while index + 12 <= bytes.count {
            let length = Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8 | Int(bytes[index + 3])
            let type = String(decoding: bytes[(index + 4)..<(index + 8)], as: UTF8.self)
            let end = index + 12 + length
            guard end <= bytes.count, type != "IDAT" else { break }
            if ignored.contains(type) { removedAny = true } else { kept.append(index..<end) }
            index = end
        }
        guard removedAny else { return bytes }
        kept.append(index..<bytes.count)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        for range in kept { out += bytes[range] }
        return out
    }

    private static func classify(_ image: png_image, name: String) -> ImageError {
        var copy = image
        let message = withUnsafeBytes(of: &copy.message) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        let lowered = message.lowercased()
        if lowered.contains("beyond end") || lowered.contains("not enough") || lowered.contains("read error")
            || lowered.contains("truncated") || lowered.contains("unexpected end") {
            return ImageError(code: .truncated, file: name, reason: "truncated PNG data (\(message))")
        }
        return ImageError(code: .corrupt, file: name, reason: "corrupt PNG data (\(message.isEmpty ? "unknown error" : message))")
    }
}
