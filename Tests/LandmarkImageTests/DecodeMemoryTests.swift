import Foundation
import LandmarkImage
import Testing

/// Memory follows the size the caller needs: a huge JPEG to be shrunk is decoded at a DCT scale that
/// still covers the target, while an ordinary photograph (and any image whose caller needs every pixel)
/// is decoded in full, exactly as before.
@Suite struct DecodeMemoryTests {
    static func gradient(width: Int, height: Int) -> RGBImage {
        var image = RGBImage(width: width, height: height, repeating: (0, 0, 0))
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for y in 0 ..< height {
                for x in 0 ..< width {
                    let base = (y * width + x) * 3
                    pixels[base] = UInt8(x % 256); pixels[base + 1] = UInt8(y % 256); pixels[base + 2] = UInt8((x + y) % 256)
                }
            }
        }
        return image
    }

    @Test func aLargeJPEGToBeShrunkIsDecodedAtAReducedScale() throws {
        let jpeg = try ImageEncoder.jpeg(Self.gradient(width: 4000, height: 3000), quality: 70)
        let limit = ImageDecodingOptions(fullDecodePixelLimit: 1_000_000)
        // 12 Mpx over a 1 Mpx limit, needed at 512 px: 1/4 scale (1000 × 750) is the smallest covering it.
        let shrunk = try ImageDecoder.decode(jpeg, name: "big.jpg", options: limit.shrinking(to: 512))
        #expect(shrunk.width == 1000 && shrunk.height == 750)
        // 1100 px needs 3/8 (1500 × 1125).
        let larger = try ImageDecoder.decode(jpeg, name: "big.jpg", options: limit.shrinking(to: 1100))
        #expect(larger.width == 1500 && larger.height == 1125)
        // No target (crop boxes in full-size pixels), or under the limit: the full image.
        #expect(try ImageDecoder.decode(jpeg, name: "big.jpg", options: limit).width == 4000)
        #expect(try ImageDecoder.decode(jpeg, name: "big.jpg", options: ImageDecodingOptions(reducedScaleDecoding: false).shrinking(to: 512)).width == 4000)
        // Under the limit, PIL's thumbnail draft with a gap of 2: 3000 ÷ (2 × 512) = 2.
        let drafted = try ImageDecoder.decode(jpeg, name: "big.jpg", options: ImageDecodingOptions().shrinking(to: 512))
        #expect(drafted.width == 2000 && drafted.height == 1500)
        #expect(try ImageDecoder.decode(jpeg, name: "big.jpg", options: ImageDecodingOptions().shrinking(to: 180)).width == 500)
        #expect(try ImageDecoder.decode(jpeg, name: "big.jpg", options: ImageDecodingOptions().shrinking(to: 1100)).width == 4000)
        // The reduced decode is the same picture: its thumbnail is close to the full decode's.
        let full = try ImageDecoder.decode(jpeg, name: "big.jpg").resized(longerSide: 256)
        let reduced = shrunk.resized(longerSide: 256)
        #expect(full.width == reduced.width && full.height == reduced.height)
        let worst = zip(full.pixels, reduced.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        #expect(worst <= 12, "max difference \(worst)")
    }

    @Test func panoramasKeepAShorterSideWorthDescribing() {
        let panorama = Self.gradient(width: 4000, height: 20)
        let thin = panorama.resized(longerSide: 512)
        #expect(thin.height < 8)
        let kept = panorama.resized(longerSide: 512, minimumShorterSide: 16)
        #expect(kept.height == 16 && kept.width == 3200)
        // An ordinary photograph is resized exactly as without the rule; a thin image is never enlarged.
        let photo = Self.gradient(width: 800, height: 600)
        #expect(photo.resized(longerSide: 512, minimumShorterSide: 32) == photo.resized(longerSide: 512))
        let strip = Self.gradient(width: 300, height: 10)
        #expect(strip.resized(longerSide: 200, minimumShorterSide: 32) == strip)
    }
}
