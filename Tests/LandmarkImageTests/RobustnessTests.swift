import Foundation
import LandmarkImage
import Testing

/// Damaged inputs must give typed errors, never crashes or silently partial images.
@Suite struct RobustnessTests {
    /// Cutting a JPEG anywhere yields an error; cut inside the entropy-coded data it is `.truncated`.
    @Test(arguments: ["good/jpeg_progressive.jpg", "good/jpeg_baseline.jpg", "good/jpeg_cmyk.jpg"])
    func everyJPEGPrefixFails(_ file: String) throws {
        let whole = Fixtures.bytes(file)
        try #require(whole.count > 100)
        let scanStart = try #require((0..<(whole.count - 1)).first { whole[$0] == 0xFF && whole[$0 + 1] == 0xDA })
        for length in stride(from: 0, to: whole.count - 2, by: 5) {
            do {
                let image = try ImageDecoder.decode(Array(whole.prefix(length)), name: "cut.jpg")
                Issue.record("a \(length)-byte prefix decoded as \(image.width)×\(image.height)")
            } catch {
                let allowed: Set<ImageError.Code> = length > scanStart + 20 ? [.truncated] : [.truncated, .corrupt, .empty]
                #expect(allowed.contains(error.code), "prefix \(length): \(error)")
            }
        }
    }

    @Test func everyPNGPrefixFails() throws {
        let whole = Fixtures.bytes("good/png_palette_transparency.png")
        try #require(whole.count > 100)
        for length in stride(from: 0, to: whole.count - 12, by: 3) {
            do {
                let image = try ImageDecoder.decode(Array(whole.prefix(length)), name: "cut.png")
                Issue.record("a \(length)-byte prefix decoded as \(image.width)×\(image.height)")
            } catch {
                #expect([.truncated, .corrupt, .empty].contains(error.code), "prefix \(length): \(error)")
            }
        }
    }

    /// Random EXIF payloads (and random TIFF bodies after a valid header) are ignored, never fatal.
    @Test func malformedEXIFIsIgnored() throws {
        let jpeg = Fixtures.bytes("good/jpeg_baseline.jpg")
        let expected = try ImageDecoder.decode(jpeg, name: "plain.jpg")
        var generator = SystemRandomNumberGenerator()
        for trial in 0..<200 {
            let length = Int.random(in: 0..<80, using: &generator)
            var body = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            if trial % 2 == 0 { body = [0x49, 0x49, 0x2A, 0x00] + body }
            if trial % 4 == 1 { body = [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8] + body }
            let payload: [UInt8] = Array("Exif".utf8) + [0, 0] + body
            let segmentLength = payload.count + 2
            let segment: [UInt8] = [0xFF, 0xE1, UInt8(segmentLength >> 8), UInt8(segmentLength & 0xFF)] + payload
            let withEXIF = Array(jpeg[0..<2]) + segment + Array(jpeg[2...])
            let decoded = try ImageDecoder.decode(withEXIF, name: "exif.jpg")
            // A random payload may hold a valid orientation; then the size may swap, but pixels are a permutation.
            #expect(decoded.pixels.count == expected.pixels.count)
            #expect(decoded.pixels.sorted() == expected.pixels.sorted())
        }
    }

    /// Every orientation applied and then undone gives back the original.
    @Test func orientationsInvert() throws {
        let image = try ImageDecoder.decode(contentsOf: Fixtures.url("good/png_rgb.png"))
        let inverse: [EXIFOrientation: EXIFOrientation] = [
            .upright: .upright, .mirroredHorizontally: .mirroredHorizontally, .rotated180: .rotated180,
            .mirroredVertically: .mirroredVertically, .transposed: .transposed,
            .rotated90Clockwise: .rotated90CounterClockwise, .transversed: .transversed,
            .rotated90CounterClockwise: .rotated90Clockwise,
        ]
        for orientation in EXIFOrientation.allCases {
            let inverseOrientation = try #require(inverse[orientation])
            #expect(image.applying(orientation).applying(inverseOrientation) == image, "\(orientation)")
        }
    }

    @Test func signatureSniffing() {
        let cases: [([UInt8], ImageError.Code)] = [
            ([0xFF], .truncated), ([0xFF, 0xD8], .truncated), ([0x89, 0x50, 0x4E], .truncated),
            (Array("GIF89a".utf8) + [1, 0, 1, 0], .unsupportedFormat),
            ([0, 0, 0, 0x18] + Array("ftypheic".utf8) + [0, 0, 0, 0], .unsupportedFormat),
            ([0, 0, 0, 0x18] + Array("ftypavif".utf8) + [0, 0, 0, 0], .unsupportedFormat),
            (Array("%PDF-1.7\n".utf8), .notAnImage), (Array("  <html><body>x</body></html>".utf8), .notAnImage),
            ([0x00, 0x01, 0x02, 0x03, 0xFE], .notAnImage),
        ]
        for (bytes, code) in cases {
            do {
                _ = try ImageDecoder.decode(bytes, name: "sniff")
                Issue.record("\(bytes) decoded")
            } catch {
                #expect(error.code == code, "\(bytes): \(error)")
            }
        }
    }
}
