/// An 8-bit RGB raster: the one pixel format every later stage consumes.
///
/// Pixels are row-major and interleaved (`r, g, b, r, g, b, …`), with no row padding, so
/// `pixels[(y * width + x) * 3 + channel]` addresses a sample.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// Row-major interleaved RGB samples; `count == width * height * 3`.
    public var pixels: [UInt8]

    /// Wraps existing samples. `pixels.count` must equal `width * height * 3`.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)×\(height)")
        precondition(pixels.count == width * height * 3,
                     "RGBImage \(width)×\(height) needs \(width * height * 3) samples, got \(pixels.count)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image filled with one colour.
    public init(width: Int, height: Int, repeating colour: (UInt8, UInt8, UInt8)) {
        precondition(width >= 0 && height >= 0, "negative image size \(width)×\(height)")
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        pixels.withUnsafeMutableBufferPointer { buffer in
            var index = 0
            while index < buffer.count {
                buffer[index] = colour.0
                buffer[index + 1] = colour.1
                buffer[index + 2] = colour.2
                index += 3
            }
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// The colour at `(x, y)`; for tests and diagnostics, not for loops over the image.
    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let index = (y * width + x) * 3
        return (pixels[index], pixels[index + 1], pixels[index + 2])
    }
}

extension RGBImage {
    /// Crop to a box in pixel coordinates (x0,y0,x1,y1 as in PIL's crop, clamped to the image); returns nil if empty.
    ///
    /// Unlike PIL, which pads out-of-image areas with black, the box is clamped, because callers crop query
    /// regions that annotators sometimes drew slightly past the border.
    public func cropped(x0: Int, y0: Int, x1: Int, y1: Int) -> RGBImage? {
        let left = min(max(x0, 0), width), right = min(max(x1, 0), width)
        let top = min(max(y0, 0), height), bottom = min(max(y1, 0), height)
        guard right > left, bottom > top else { return nil }
        let outWidth = right - left, outHeight = bottom - top
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                guard let sourceBase = source.baseAddress, let destinationBase = destination.baseAddress else { return }
                for row in 0..<outHeight {
                    (destinationBase + row * outWidth * 3).update(
                        from: sourceBase + ((top + row) * width + left) * 3, count: outWidth * 3)
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// Luma, ITU-R 601-2 as PIL "L" conversion, values 0…255, row-major.
    ///
    /// Uses PIL's fixed-point weights and rounding (`(19595 R + 38470 G + 7471 B + 2^15) >> 16`), so the values
    /// are the integers PIL produces, which keeps descriptors computed on grey images identical to the reference.
    public func grayscale() -> [Float] {
        let count = width * height
        var out = [Float](repeating: 0, count: count)
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for index in 0..<count {
                    let red = UInt32(source[index * 3]), green = UInt32(source[index * 3 + 1])
                    let blue = UInt32(source[index * 3 + 2])
                    destination[index] = Float((red &* 19595 &+ green &* 38470 &+ blue &* 7471 &+ 0x8000) >> 16)
                }
            }
        }
        return out
    }
}
