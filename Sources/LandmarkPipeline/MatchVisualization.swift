import LandmarkImage
import LandmarkLocalFeatures

/// A picture of a verified pair for people: both images side by side, inlier matches as green lines.
public enum MatchVisualization {
    /// The inlier matches of a verified pair drawn between the two images the features were extracted
    /// from (both at the verifier's SIFT size), as `landmark verify --visualize` and the service show them.
    public static func inliers(of pair: SpatialVerifier.PairVerification,
                               first: (image: RGBImage, features: LocalFeatures),
                               second: (image: RGBImage, features: LocalFeatures)) -> RGBImage {
        let lines = pair.result.inliers.map { index -> (SIMD2<Double>, SIMD2<Double>) in
            let match = pair.matches[index]
            let a = first.features.keypoints[match.query], b = second.features.keypoints[match.train]
            return (SIMD2(Double(a.x), Double(a.y)), SIMD2(Double(b.x), Double(b.y)))
        }
        return sideBySide(first.image, second.image, lines: lines)
    }

    /// - Parameters:
    ///   - lines: (point in `left`, point in `right`) in each image's own pixel coordinates.
    public static func sideBySide(_ left: RGBImage, _ right: RGBImage,
                                  lines: [(SIMD2<Double>, SIMD2<Double>)]) -> RGBImage {
        let width = left.width + right.width, height = max(left.height, right.height)
        var canvas = RGBImage(width: width, height: height, repeating: (0, 0, 0))
        for (image, offset) in [(left, 0), (right, left.width)] {
            for y in 0..<image.height {
                let source = y * image.width * 3, target = (y * width + offset) * 3
                canvas.pixels.replaceSubrange(target..<(target + image.width * 3),
                                              with: image.pixels[source..<(source + image.width * 3)])
            }
        }
        for (a, b) in lines {
            let end = SIMD2(b.x + Double(left.width), b.y)
            drawLine(&canvas, from: a, to: end, colour: (40, 255, 40))
            drawDot(&canvas, at: a, colour: (255, 220, 0))
            drawDot(&canvas, at: end, colour: (255, 220, 0))
        }
        return canvas
    }

    static func drawLine(_ image: inout RGBImage, from a: SIMD2<Double>, to b: SIMD2<Double>,
                         colour: (UInt8, UInt8, UInt8)) {
        let steps = Int(max(abs(b.x - a.x), abs(b.y - a.y)).rounded(.up)) + 1
        for step in 0...steps {
            let t = Double(step) / Double(max(steps, 1))
            plot(&image, x: Int((a.x + (b.x - a.x) * t).rounded()), y: Int((a.y + (b.y - a.y) * t).rounded()), colour)
        }
    }

    static func drawDot(_ image: inout RGBImage, at point: SIMD2<Double>, colour: (UInt8, UInt8, UInt8)) {
        let x = Int(point.x.rounded()), y = Int(point.y.rounded())
        for dy in -2...2 { for dx in -2...2 where dx * dx + dy * dy <= 5 { plot(&image, x: x + dx, y: y + dy, colour) } }
    }

    static func plot(_ image: inout RGBImage, x: Int, y: Int, _ colour: (UInt8, UInt8, UInt8)) {
        guard x >= 0, y >= 0, x < image.width, y < image.height else { return }
        let offset = (y * image.width + x) * 3
        image.pixels[offset] = colour.0
        image.pixels[offset + 1] = colour.1
        image.pixels[offset + 2] = colour.2
    }
}
