import Foundation
import LandmarkImage
import Testing

@Suite struct DecodingTests {
    @Test func manifestIsPresent() {
        #expect(Fixtures.entries("good").count >= 25)
        #expect(Set(Fixtures.entries("bad").map(\.expected)).count >= 6)
        #expect(Fixtures.entries("bad").count >= 10)
    }

    /// Every supported variant decodes to PIL 9.4's `exif_transpose(open(f)).convert("RGB")`: exactly for PNG
    /// (tolerance 0) except 16-bit with alpha (±1: libpng rounds 16→8 bits, PIL keeps the high byte); JPEG within
    /// ±1 as a margin, measured exact (same libjpeg-turbo, accurate integer IDCT, fancy upsampling).
    /// 16-bit grey is compared with its high byte, a deliberate deviation from PIL, which clips it to white.
    @Test(arguments: Fixtures.entries("good"))
    func goodFixtureMatchesPIL(_ entry: FixtureEntry) throws {
        let image = try ImageDecoder.decode(contentsOf: Fixtures.url(entry.file))
        #expect(image.width == entry.width)
        #expect(image.height == entry.height)
        let reference = try #require(Fixtures.reference(entry, suffix: ".rgb"))
        guard image.width == reference.width, image.height == reference.height else { return }
        let difference = PixelDifference(image, reference)
        #expect(difference.maximum <= entry.tolerance, "max |Δ| \(difference.maximum), mean \(difference.mean)")
    }

    /// The bad-file corpus: each file yields its typed error, and the message names the file.
    @Test(arguments: Fixtures.entries("bad"))
    func badFixtureYieldsTypedError(_ entry: FixtureEntry) {
        let url = Fixtures.url(entry.file)
        do {
            let image = try ImageDecoder.decode(contentsOf: url)
            Issue.record("decoded \(entry.file) as \(image.width)×\(image.height), expected \(entry.expected)")
        } catch {
            #expect(error.code.rawValue == entry.expected, "\(error)")
            #expect(error.file == url.path)
            #expect(error.description.hasPrefix(url.path + ": "))
            #expect(!error.reason.isEmpty)
        }
    }

    @Test func truncatedJPEGMessageSaysTruncated() {
        #expect(throws: ImageError.self) {
            try ImageDecoder.decode(Fixtures.bytes("bad/truncated.jpg"), name: "photo.jpg")
        }
        do {
            _ = try ImageDecoder.decode(Fixtures.bytes("bad/truncated.jpg"), name: "photo.jpg")
        } catch {
            #expect(error.code == .truncated)
            #expect(error.description.hasPrefix("photo.jpg: truncated JPEG data"))
        }
    }

    @Test func unsupportedFormatIsNamed() {
        for (file, format) in [("bad/image.gif", "GIF"), ("bad/image.bmp", "BMP"), ("bad/image.tiff", "TIFF"),
                               ("bad/image.webp", "WebP")] {
            do {
                _ = try ImageDecoder.decode(Fixtures.bytes(file), name: file)
                Issue.record("\(file) decoded")
            } catch {
                #expect(error.reason.contains(format), "\(error)")
            }
        }
    }

    @Test func pixelLimitIsConfigurable() throws {
        let small = ImageDecodingOptions(maximumPixelCount: 48 * 32 - 1)
        for file in ["good/jpeg_baseline.jpg", "good/png_rgb.png"] {
            do {
                _ = try ImageDecoder.decode(Fixtures.bytes(file), name: file, options: small)
                Issue.record("\(file) decoded despite the pixel limit")
            } catch {
                #expect(error.code == .tooLarge)
            }
            let exact = ImageDecodingOptions(maximumPixelCount: 48 * 32)
            #expect(try ImageDecoder.decode(Fixtures.bytes(file), name: file, options: exact).width == 48)
        }
    }

    @Test func orientationCanBeIgnored() throws {
        let options = ImageDecodingOptions(appliesEXIFOrientation: false)
        let raw = try ImageDecoder.decode(contentsOf: Fixtures.url("good/jpeg_orientation_6.jpg"), options: options)
        let upright = try ImageDecoder.decode(contentsOf: Fixtures.url("good/jpeg_orientation_1.jpg"))
        #expect(raw == upright)
        let rotated = try ImageDecoder.decode(contentsOf: Fixtures.url("good/jpeg_orientation_6.jpg"))
        #expect(rotated == upright.applying(.rotated90Clockwise))
    }

    @Test func unreadableFiles() {
        let missing = Fixtures.root.appendingPathComponent("no-such-file.jpg")
        let directory = Fixtures.root.appendingPathComponent("good")
        for url in [missing, directory] {
            do {
                _ = try ImageDecoder.decode(contentsOf: url)
                Issue.record("decoded \(url.path)")
            } catch {
                #expect(error.code == .unreadable, "\(error)")
                #expect(error.file == url.path)
            }
        }
    }

    /// The real photos of the development set all decode (skipped when /work/shared/devset is absent).
    static let developmentImages = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/devset/images")

    @Test(.enabled(if: FileManager.default.fileExists(atPath: developmentImages.path), "needs ../shared/devset"))
    func developmentSetDecodes() throws {
        let images = Self.developmentImages
        let names = try FileManager.default.contentsOfDirectory(atPath: images.path)
        let photos = names.filter { [".jpg", ".jpeg", ".png"].contains(where: $0.lowercased().hasSuffix) }.sorted()
        #expect(!photos.isEmpty)
        for name in photos {
            do {
                let image = try ImageDecoder.decode(contentsOf: images.appendingPathComponent(name))
                #expect(image.width > 0 && image.height > 0)
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
