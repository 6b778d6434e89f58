import Foundation
import LandmarkImage
import LandmarkLinearAlgebra

/// Random photometric and geometric changes of a training image (METHODS.md §7): a crop keeping the
/// aspect ratio, a small horizontal shear, and brightness, contrast and saturation jitter — each drawn
/// from a seed, so that an image looks the same in a run and its resumption.
///
/// The crop and shear are one affine map sampled bilinearly from the image already resized to the
/// training size; the result is resized back to that size, as a random-resized-crop would produce.
public struct ImageAugmentation: Sendable, Codable, Equatable {
    /// Smallest side fraction kept by the crop (1: no crop).
    public var minimumCropScale: Double
    /// Largest horizontal shear, x shifts by up to this fraction of the distance from the centre row.
    public var maximumShear: Double
    /// Brightness, contrast and saturation factors are drawn from [1 − jitter, 1 + jitter].
    public var colourJitter: Double

    public init(minimumCropScale: Double = 0.7, maximumShear: Double = 0.1, colourJitter: Double = 0.2) {
        self.minimumCropScale = min(max(minimumCropScale, 0.1), 1)
        self.maximumShear = max(maximumShear, 0)
        self.colourJitter = min(max(colourJitter, 0), 1)
    }

    /// The seed of one image in one epoch of a run.
    public static func seed(run: UInt64, epoch: Int, image: Int) -> UInt64 {
        var generator = SplitMix64(seed: run ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(image) &* 0xC2B2_AE3D_27D4_EB4F))
        return generator.next()
    }

    /// `image` (already at the training size) changed by the draws of `seed`, at the same longer side.
    public func apply(_ image: RGBImage, seed: UInt64) -> RGBImage {
        guard image.width >= 2, image.height >= 2 else { return image }
        var generator = SplitMix64(seed: seed)
        func uniform(_ low: Double, _ high: Double) -> Double {
            low + (high - low) * Double(generator.next() >> 11) * 0x1p-53
        }
        let scale = uniform(minimumCropScale, 1)
        let cropWidth = max(2, Int((Double(image.width) * scale).rounded()))
        let cropHeight = max(2, Int((Double(image.height) * scale).rounded()))
        let left = uniform(0, Double(image.width - cropWidth)), top = uniform(0, Double(image.height - cropHeight))
        let shear = uniform(-maximumShear, maximumShear)
        let brightness = uniform(1 - colourJitter, 1 + colourJitter)
        let contrast = uniform(1 - colourJitter, 1 + colourJitter)
        let saturation = uniform(1 - colourJitter, 1 + colourJitter)

        var pixels = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        let width = image.width, height = image.height
        let centreRow = Double(cropHeight - 1) / 2
        image.pixels.withUnsafeBufferPointer { source in
            pixels.withUnsafeMutableBufferPointer { target in
                for v in 0..<cropHeight {
                    let y = min(max(top + Double(v), 0), Double(height - 1))
                    let y0 = Int(y), y1 = min(y0 + 1, height - 1), fy = y - Double(y0)
                    for u in 0..<cropWidth {
                        let x = min(max(left + Double(u) + shear * (Double(v) - centreRow), 0), Double(width - 1))
                        let x0 = Int(x), x1 = min(x0 + 1, width - 1), fx = x - Double(x0)
                        for channel in 0..<3 {
                            let a = Double(source[(y0 * width + x0) * 3 + channel]), b = Double(source[(y0 * width + x1) * 3 + channel])
                            let c = Double(source[(y1 * width + x0) * 3 + channel]), d = Double(source[(y1 * width + x1) * 3 + channel])
                            let value = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy
                            target[(v * cropWidth + u) * 3 + channel] = UInt8(min(max(value.rounded(), 0), 255))
                        }
                    }
                }
            }
        }
        // Colour: brightness scales, contrast pulls towards the mean grey, saturation towards each pixel's grey.
        var meanGrey = 0.0
        for index in stride(from: 0, to: pixels.count, by: 3) {
            meanGrey += 0.299 * Double(pixels[index]) + 0.587 * Double(pixels[index + 1]) + 0.114 * Double(pixels[index + 2])
        }
        meanGrey = meanGrey / Double(cropWidth * cropHeight) * brightness
        func byte(_ value: Double) -> UInt8 { UInt8(min(max(value.rounded(), 0), 255)) }
        for index in stride(from: 0, to: pixels.count, by: 3) {
            let red = (Double(pixels[index]) * brightness - meanGrey) * contrast + meanGrey
            let green = (Double(pixels[index + 1]) * brightness - meanGrey) * contrast + meanGrey
            let blue = (Double(pixels[index + 2]) * brightness - meanGrey) * contrast + meanGrey
            let grey = 0.299 * red + 0.587 * green + 0.114 * blue
            pixels[index] = byte((red - grey) * saturation + grey)
            pixels[index + 1] = byte((green - grey) * saturation + grey)
            pixels[index + 2] = byte((blue - grey) * saturation + grey)
        }
        let cropped = RGBImage(width: cropWidth, height: cropHeight, pixels: pixels)
        let longer = max(width, height)
        return cropWidth >= cropHeight
            ? cropped.resized(width: longer, height: max(1, Int((Double(cropHeight) * Double(longer) / Double(cropWidth)).rounded())),
                              filter: .bilinear)
            : cropped.resized(width: max(1, Int((Double(cropWidth) * Double(longer) / Double(cropHeight)).rounded())), height: longer,
                              filter: .bilinear)
    }
}
