import Foundation
import LandmarkImage
import Testing

/// Reduced-scale decoding (issue 16) equals PIL's: the same DCT scale as `thumbnail`'s draft, the same scaled
/// IDCT pixels, and the same thumbnail of them. Fixtures: scripts/fixtures/image_draft_make_fixtures.py.
@Suite struct ReducedScaleDecodingTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var scale: Int
        var target: Int
        var width: Int
        var height: Int
        var thumbnail: Int
        var thumbnailWidth: Int
        var thumbnailHeight: Int
        var testDescription: String { "\(name) at 1/\(scale)" }
    }

    static let rows: [Row] = {
        guard let text = try? String(contentsOf: Fixtures.url("draft/draft.tsv"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard !line.hasPrefix("#") else { return nil }
            let fields = line.split(separator: "\t").map(String.init)
            guard fields.count == 8, let scale = Int(fields[1]), let target = Int(fields[2]), let width = Int(fields[3]),
                  let height = Int(fields[4]), let thumbnail = Int(fields[5]), let thumbnailWidth = Int(fields[6]),
                  let thumbnailHeight = Int(fields[7]) else { return nil }
            return Row(name: fields[0], scale: scale, target: target, width: width, height: height, thumbnail: thumbnail,
                       thumbnailWidth: thumbnailWidth, thumbnailHeight: thumbnailHeight)
        }
    }()

    static func reference(_ file: String, width: Int, height: Int) throws -> RGBImage {
        let bytes = Fixtures.bytes("draft/" + file)
        try #require(bytes.count == width * height * 3, "fixture \(file) is missing or has the wrong size")
        return RGBImage(width: width, height: height, pixels: bytes)
    }

    @Test func fixturesArePresent() {
        #expect(Self.rows.count == 12)
    }

    @Test(arguments: rows)
    func decodesAsPILsDraftAndThumbnails(_ row: Row) throws {
        let url = Fixtures.url("draft/\(row.name).jpg")
        let decoded = try ImageDecoder.decode(contentsOf: url, options: ImageDecodingOptions().shrinking(to: row.target))
        #expect(decoded.width == row.width && decoded.height == row.height)
        let expected = try Self.reference("\(row.name).s\(row.scale).rgb", width: row.width, height: row.height)
        let difference = PixelDifference(decoded, expected)
        #expect(difference.maximum <= 1, "decoded pixels differ from PIL's draft by up to \(difference.maximum)")

        let thumbnail = decoded.resized(longerSide: row.thumbnail)
        #expect(thumbnail.width == row.thumbnailWidth && thumbnail.height == row.thumbnailHeight)
        let expectedThumbnail = try Self.reference("\(row.name).s\(row.scale).thumb\(row.thumbnail).rgb",
                                                   width: row.thumbnailWidth, height: row.thumbnailHeight)
        let thumbnailDifference = PixelDifference(thumbnail, expectedThumbnail)
        #expect(thumbnailDifference.maximum <= 1, "thumbnail differs from PIL's by up to \(thumbnailDifference.maximum)")

        // What the reduced scale changes: the same thumbnail from the full decode (PIL's, and ours).
        let full = try ImageDecoder.decode(contentsOf: url, options: ImageDecodingOptions(reducedScaleDecoding: false)
            .shrinking(to: row.target))
        #expect(max(full.width, full.height) == 320)
        let fullThumbnail = full.resized(longerSide: row.thumbnail)
        let expectedFull = try Self.reference("\(row.name).full.thumb\(row.thumbnail).rgb",
                                              width: row.thumbnailWidth, height: row.thumbnailHeight)
        #expect(PixelDifference(fullThumbnail, expectedFull).maximum <= 1)
        let change = PixelDifference(thumbnail, fullThumbnail)
        #expect(change.mean < 3, "reduced against full decode: mean \(change.mean), max \(change.maximum)")
        #expect(change.maximum <= 24, "reduced against full decode: mean \(change.mean), max \(change.maximum)")
    }

    /// Below twice the target on the shorter side, and for PNGs, nothing changes.
    @Test func smallPhotosAndPNGsAreDecodedInFull() throws {
        let url = Fixtures.url("draft/draft_420.jpg")
        let reduced = try ImageDecoder.decode(contentsOf: url, options: ImageDecodingOptions().shrinking(to: 121))
        let full = try ImageDecoder.decode(contentsOf: url)
        #expect(reduced == full && full.width == 320)
        let png = try ImageEncoder.png(full)
        #expect(try ImageDecoder.decode(png, name: "draft.png", options: ImageDecodingOptions().shrinking(to: 20)).width == 320)
    }
}
