import LandmarkDescriptors
import LandmarkImage
import Testing

/// A smooth pattern with structure (stripes and a colour gradient) that can be shifted by whole pixels.
private func pattern(width: Int, height: Int, shift: Int = 0, hue: Int = 0) -> RGBImage {
    var pixels = [UInt8](repeating: 0, count: width * height * 3)
    for y in 0..<height {
        for x in 0..<width {
            let u = x + shift
            let stripe: UInt8 = (u / 12 + y / 16) % 2 == 0 ? 200 : 60
            let offset = (y * width + x) * 3
            pixels[offset] = UInt8((Int(stripe) + hue) % 256)
            pixels[offset + 1] = UInt8(min(255, u * 255 / max(1, width)))
            pixels[offset + 2] = UInt8(y * 255 / max(1, height))
        }
    }
    return RGBImage(width: width, height: height, pixels: pixels)
}

private func dot(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).reduce(0) { $0 + $1.0 * $1.1 } }

@Suite struct GradientColourHistogramBaselineTests {
    let extractor = GradientColourHistogramBaseline()

    @Test func descriptorHasTheAdvertisedDimensionAndUnitNorm() throws {
        let descriptor = try extractor.describe(pattern(width: 120, height: 90))
        #expect(descriptor.count == extractor.dimension)
        #expect(abs(dot(descriptor, descriptor) - 1) < 1e-4)
        #expect(descriptor.allSatisfy { $0.isFinite })
    }

    @Test func descriptionIsDeterministic() throws {
        let image = pattern(width: 97, height: 64)
        #expect(try extractor.describe(image) == extractor.describe(image))
    }

    @Test func smallShiftStaysCloserThanADifferentImage() throws {
        let base = try extractor.describe(pattern(width: 128, height: 96))
        let shifted = try extractor.describe(pattern(width: 128, height: 96, shift: 3))
        let other = try extractor.describe(pattern(width: 128, height: 96, shift: 6, hue: 120).transposedStripes())
        #expect(dot(base, shifted) > 0.9)
        #expect(dot(base, shifted) > dot(base, other))
    }

    @Test func uniformImageStillGivesAUnitVector() throws {
        let grey = RGBImage(width: 32, height: 32, pixels: [UInt8](repeating: 128, count: 32 * 32 * 3))
        let descriptor = try extractor.describe(grey)
        #expect(abs(dot(descriptor, descriptor) - 1) < 1e-4)
    }

    @Test func tinyImagesAreRejectedWithATypedError() {
        let tiny = RGBImage(width: 2, height: 2, pixels: [UInt8](repeating: 0, count: 12))
        #expect(throws: DescriptorError.self) { try extractor.describe(tiny) }
    }

    @Test func registryKnowsTheBaselineAndRejectsUnknownNames() throws {
        #expect(try GlobalDescriptorRegistry.extractor(named: "baseline").name == GradientColourHistogramBaseline.name)
        #expect(try GlobalDescriptorRegistry.extractor(named: GlobalDescriptorRegistry.defaultName).dimension > 0)
        #expect(throws: DescriptorError.self) { try GlobalDescriptorRegistry.extractor(named: "resnet-9000") }
    }
}

private extension RGBImage {
    /// The same picture turned by 90° (then cropped back to shape): different structure, similar colours.
    func transposedStripes() -> RGBImage {
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let sourceX = y % width, sourceY = x % height
                for channel in 0..<3 {
                    pixels[(y * width + x) * 3 + channel] = self.pixels[(sourceY * width + sourceX) * 3 + channel]
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
