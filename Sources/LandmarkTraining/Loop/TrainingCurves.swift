import Foundation
import LandmarkImage
import LandmarkStorage

/// The picture a run ends with: training loss (red, scaled to its own maximum) and validation / training
/// mAP (blue / green, 0 to 1) per epoch, on a light grid with one vertical line per epoch.
public enum TrainingCurves {
    public static func render(_ history: [EpochRecord], width: Int = 640, height: Int = 360) -> RGBImage {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        let left = 40, right = width - 20, top = 20, bottom = height - 30
        func set(_ x: Int, _ y: Int, _ colour: (UInt8, UInt8, UInt8)) {
            guard x >= 0, x < width, y >= 0, y < height else { return }
            let offset = (y * width + x) * 3
            pixels[offset] = colour.0
            pixels[offset + 1] = colour.1
            pixels[offset + 2] = colour.2
        }
        func line(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ colour: (UInt8, UInt8, UInt8), thickness: Int = 1) {
            let steps = max(abs(x1 - x0), abs(y1 - y0), 1)
            for step in 0...steps {
                let x = x0 + (x1 - x0) * step / steps, y = y0 + (y1 - y0) * step / steps
                for dy in 0..<thickness { for dx in 0..<thickness { set(x + dx, y + dy, colour) } }
            }
        }
        let grid: (UInt8, UInt8, UInt8) = (225, 225, 225), axis: (UInt8, UInt8, UInt8) = (90, 90, 90)
        for tenth in 0...10 {
            let y = bottom - (bottom - top) * tenth / 10
            line(left, y, right, y, grid)
        }
        let lastEpoch = max(history.map(\.epoch).max() ?? 1, 1)
        func x(_ epoch: Int) -> Int { left + (right - left) * epoch / lastEpoch }
        for epoch in 0...lastEpoch { line(x(epoch), top, x(epoch), bottom, grid) }
        line(left, top, left, bottom, axis)
        line(left, bottom, right, bottom, axis)
        func curve(_ values: [(Int, Double)], scale: Double, _ colour: (UInt8, UInt8, UInt8)) {
            guard scale > 0 else { return }
            let points = values.filter { $0.1.isFinite }.map { (x($0.0), bottom - Int(Double(bottom - top) * min(max($0.1 / scale, 0), 1))) }
            for (a, b) in zip(points, points.dropFirst()) { line(a.0, a.1, b.0, b.1, colour, thickness: 2) }
            for point in points { line(point.0 - 2, point.1 - 2, point.0 + 2, point.1 + 2, colour, thickness: 2) }
        }
        let losses = history.compactMap { record in record.loss.map { (record.epoch, $0) } }
        curve(losses, scale: losses.map(\.1).filter(\.isFinite).max() ?? 0, (214, 39, 40))
        curve(history.compactMap { record in record.validationMeanAveragePrecision.map { (record.epoch, $0) } }, scale: 1, (31, 119, 180))
        curve(history.compactMap { record in record.trainingMeanAveragePrecision.map { (record.epoch, $0) } }, scale: 1, (44, 160, 44))
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    public static func write(_ history: [EpochRecord], to url: URL) throws {
        try DurableFile.write(try ImageEncoder.png(render(history)), to: url)
    }
}
