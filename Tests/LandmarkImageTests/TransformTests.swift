import Foundation
import LandmarkImage
import Testing

@Suite struct TransformTests {
    static let source: RGBImage? = try? ImageDecoder.decode(contentsOf: Fixtures.url("resize/source.png"))

    /// Resampling reproduces PIL 9.4's `thumbnail` (with its reducing_gap=2 `reduce` step) and `resize`.
    /// Measured on these fixtures: identical to PIL (max |Δ| 0, mean 0); the tolerance allows ±1 (mean ≤ 0.05) for
    /// libm `sin` rounding differences that could move a fixed-point weight.
    @Test(arguments: Fixtures.entries("resize"))
    func resizeMatchesPIL(_ entry: FixtureEntry) throws {
        let source = try #require(Self.source)
        let name = entry.file.replacingOccurrences(of: "resize/", with: "").replacingOccurrences(of: ".rgb", with: "")
        let parts = name.split(separator: "_").map(String.init)
        let filter: ResamplingFilter = switch parts.last {
        case "bicubic": .bicubic
        case "bilinear": .bilinear
        case "box": .box
        default: .lanczos
        }
        let output: RGBImage
        if parts[0] == "thumbnail" {
            output = source.resized(longerSide: try #require(Int(parts[1])), filter: filter)
        } else if parts[0] == "transposed" {
            output = source.applying(.transposed).resized(longerSide: try #require(Int(parts[2])), filter: filter)
        } else {
            let size = parts[1].split(separator: "x").compactMap { Int($0) }
            output = source.resized(width: size[0], height: size[1], filter: filter)
        }
        #expect(output.width == entry.width && output.height == entry.height)
        let reference = try #require(Fixtures.reference(entry))
        guard output.width == reference.width, output.height == reference.height else { return }
        let difference = PixelDifference(output, reference)
        #expect(difference.maximum <= entry.tolerance, "max |Δ| \(difference.maximum), mean \(difference.mean)")
        #expect(difference.mean <= 0.05, "mean |Δ| \(difference.mean)")
    }

    @Test func thumbnailNeverEnlarges() throws {
        let source = try #require(Self.source)
        #expect(source.resized(longerSide: 240) == source)
        #expect(source.resized(longerSide: 1000) == source)
        #expect(source.resized(longerSide: 239).width == 239)
    }

    /// Output sizes follow PIL's `round_aspect` (values computed with PIL 9.4 `thumbnail`).
    @Test(arguments: [
        (1024, 768, 512, 512, 384), (768, 1024, 512, 384, 512), (1000, 333, 97, 97, 32),
        (333, 1000, 97, 32, 97), (4000, 3, 100, 100, 1), (3, 4000, 100, 1, 100), (1023, 767, 362, 362, 271),
        (500, 500, 362, 362, 362), (640, 427, 1024, 640, 427),
    ])
    func thumbnailSizeRounding(_ input: (Int, Int, Int, Int, Int)) {
        let image = RGBImage(width: input.0, height: input.1, repeating: (10, 20, 30))
        let output = image.resized(longerSide: input.2, filter: .bilinear)
        #expect(output.width == input.3 && output.height == input.4)
        #expect(output[0, 0] == (10, 20, 30))
    }

    @Test func cropMatchesPIL() throws {
        let source = try #require(Self.source)
        let entry = try #require(Fixtures.entries("crop").first)
        let reference = try #require(Fixtures.reference(entry))
        #expect(source.cropped(x0: 10, y0: 20, x1: 110, y1: 70) == reference)
    }

    @Test func cropClampsAndRejectsEmpty() throws {
        let source = try #require(Self.source)
        let clamped = try #require(source.cropped(x0: -5, y0: -5, x1: 10, y1: 1000))
        #expect(clamped.width == 10 && clamped.height == 160)
        #expect(clamped == source.cropped(x0: 0, y0: 0, x1: 10, y1: 160))
        #expect(source.cropped(x0: 10, y0: 10, x1: 10, y1: 50) == nil)
        #expect(source.cropped(x0: 300, y0: 0, x1: 400, y1: 10) == nil)
        #expect(source.cropped(x0: 50, y0: 50, x1: 40, y1: 60) == nil)
    }

    @Test func grayscaleMatchesPIL() throws {
        let source = try #require(Self.source)
        let entry = try #require(Fixtures.entries("grayscale").first)
        let reference = Fixtures.bytes(entry.file)
        let luma = source.grayscale()
        #expect(luma.count == reference.count)
        #expect(luma == reference.map(Float.init))
    }

    /// The eight EXIF orientations on a 3×2 image whose pixels are numbered 0…5.
    @Test func orientationTransforms() {
        var pixels: [UInt8] = []
        for value in 0..<6 { pixels += [UInt8(value), 0, 0] }
        let image = RGBImage(width: 3, height: 2, pixels: pixels)  // 0 1 2 / 3 4 5
        func values(_ image: RGBImage) -> [UInt8] { stride(from: 0, to: image.pixels.count, by: 3).map { image.pixels[$0] } }
        #expect(values(image.applying(.upright)) == [0, 1, 2, 3, 4, 5])
        #expect(values(image.applying(.mirroredHorizontally)) == [2, 1, 0, 5, 4, 3])
        #expect(values(image.applying(.rotated180)) == [5, 4, 3, 2, 1, 0])
        #expect(values(image.applying(.mirroredVertically)) == [3, 4, 5, 0, 1, 2])
        #expect(values(image.applying(.transposed)) == [0, 3, 1, 4, 2, 5])
        #expect(values(image.applying(.rotated90Clockwise)) == [3, 0, 4, 1, 5, 2])
        #expect(values(image.applying(.transversed)) == [5, 2, 4, 1, 3, 0])
        #expect(values(image.applying(.rotated90CounterClockwise)) == [2, 5, 1, 4, 0, 3])
        #expect(image.applying(.rotated90Clockwise).width == 2)
    }

    @Test func pngRoundTripIsLossless() throws {
        let source = try #require(Self.source)
        let encoded = try ImageEncoder.png(source)
        #expect(try ImageDecoder.decode(encoded, name: "round-trip.png") == source)
    }

    @Test func jpegRoundTripIsClose() throws {
        let source = try #require(Self.source).resized(longerSide: 64)
        let smooth = RGBImage(width: 64, height: 48, repeating: (200, 120, 40))
        let encoded = try ImageEncoder.jpeg(smooth, quality: 95)
        let decoded = try ImageDecoder.decode(encoded, name: "round-trip.jpg")
        #expect(decoded.width == 64 && decoded.height == 48)
        #expect(PixelDifference(decoded, smooth).maximum <= 3)
        let noisy = try ImageDecoder.decode(try ImageEncoder.jpeg(source, quality: 90), name: "noisy.jpg")
        // PIL's own JPEG round trip of this noisy checkerboard thumbnail at quality 90 has mean |Δ| 20.77.
        #expect(PixelDifference(noisy, source).mean < 22)
    }

    @Test func initialisers() {
        let image = RGBImage(width: 2, height: 1, repeating: (1, 2, 3))
        #expect(image.pixels == [1, 2, 3, 1, 2, 3])
        #expect(image == RGBImage(width: 2, height: 1, pixels: [1, 2, 3, 1, 2, 3]))
    }
}
