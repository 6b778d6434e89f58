import CPNG
import CTurboJPEG

/// Encodes `RGBImage`s for thumbnails, demo output and test round trips.
public enum ImageEncoder {
    /// Baseline JPEG, 4:2:0 chroma subsampling (PIL's default), `quality` 1…100.
    public static func jpeg(_ image: RGBImage, quality: Int = 90) throws(ImageError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "cannot encode an empty \(image.width)×\(image.height) image as JPEG")
        }
        guard let handle = tjInitCompress() else {
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "cannot initialise the JPEG encoder")
        }
        defer { tjDestroy(handle) }
        var output: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        let status = image.pixels.withUnsafeBufferPointer { source in
            tjCompress2(handle, source.baseAddress, Int32(image.width), 0, Int32(image.height), Int32(TJPF_RGB.rawValue),
                        &output, &size, Int32(TJSAMP_420.rawValue), Int32(min(max(quality, 1), 100)), 0)
        }
        defer { if let output { tjFree(output) } }
        guard status == 0, let output else {
            let message = tjGetErrorStr2(handle).map { String(cString: $0) } ?? "unknown error"
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "JPEG encoding failed (\(message))")
        }
        return Array(UnsafeBufferPointer(start: output, count: Int(size)))
    }

    /// Lossless 8-bit RGB PNG.
    public static func png(_ image: RGBImage) throws(ImageError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "cannot encode an empty \(image.width)×\(image.height) image as PNG")
        }
        var descriptor = png_image()
        descriptor.version = UInt32(PNG_IMAGE_VERSION)
        descriptor.width = UInt32(image.width)
        descriptor.height = UInt32(image.height)
        descriptor.format = PNGDecoder.formatFlagColour
        var size = 0
        // First call measures, second writes.
        let measured = image.pixels.withUnsafeBufferPointer { source in
            png_image_write_to_memory(&descriptor, nil, &size, 0, source.baseAddress, 0, nil)
        }
        guard measured != 0, size > 0 else {
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "PNG encoding failed")
        }
        var output = [UInt8](repeating: 0, count: size)
        let written = image.pixels.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { destination in
                png_image_write_to_memory(&descriptor, destination.baseAddress, &size, 0, source.baseAddress, 0, nil)
            }
        }
        guard written != 0 else {
            throw ImageError(code: .encodingFailed, file: "<memory>", reason: "PNG encoding failed")
        }
        return Array(output.prefix(size))
    }
}
