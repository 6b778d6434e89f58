import Foundation
import LandmarkEvaluation
import LandmarkImage
import LandmarkStorage

/// The picture a run ends with: training loss (red, scaled to its own maximum) and validation / training
/// mAP (blue / green, on the 0–1 axis) per epoch, on a light grid with one vertical line per epoch, with
/// the axis values and a legend.
public enum TrainingCurves {
    static let lossColour: (UInt8, UInt8, UInt8) = (214, 39, 40)
    static let validationColour: (UInt8, UInt8, UInt8) = (31, 119, 180)
    static let trainingColour: (UInt8, UInt8, UInt8) = (44, 160, 44)

    public static func render(_ history: [EpochRecord], width: Int = 720, height: Int = 420) -> RGBImage {
        var pixels = [UInt8](repeating: 255, count: width * height * 3)
        let left = 56, right = width - 24, top = 56, bottom = height - 40
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
        let largestLoss = losses.map(\.1).filter(\.isFinite).max() ?? 0
        curve(losses, scale: largestLoss, lossColour)
        curve(history.compactMap { record in record.validationMeanAveragePrecision.map { (record.epoch, $0) } }, scale: 1, validationColour)
        curve(history.compactMap { record in record.trainingMeanAveragePrecision.map { (record.epoch, $0) } }, scale: 1, trainingColour)

        var canvas = Canvas(image: RGBImage(width: width, height: height, pixels: pixels))
        let ink: (UInt8, UInt8, UInt8) = (60, 60, 60)
        for tick in 0...5 {
            let y = bottom - (bottom - top) * tick / 5
            canvas.text(String(format: "%.1f", Double(tick) / 5), x: 8, y: y - 4, scale: 1, colour: ink)
        }
        let labelEvery = max(1, lastEpoch / 10)
        for epoch in stride(from: 0, through: lastEpoch, by: labelEvery) {
            canvas.text("\(epoch)", centreX: x(epoch), y: bottom + 6, scale: 1, colour: ink)
        }
        canvas.text("epoch", centreX: (left + right) / 2, y: bottom + 22, scale: 1, colour: ink)
        var legendX = left
        var legend: [(String, (UInt8, UInt8, UInt8))] = []
        if !losses.isEmpty { legend.append((String(format: "loss (max %.3g = top)", largestLoss), lossColour)) }
        if history.contains(where: { $0.validationMeanAveragePrecision != nil }) { legend.append(("validation mAP", validationColour)) }
        if history.contains(where: { $0.trainingMeanAveragePrecision != nil }) { legend.append(("training mAP", trainingColour)) }
        for (label, colour) in legend {
            canvas.fill(x: legendX, y: 14, width: 14, height: 10, colour: colour)
            canvas.text(label, x: legendX + 20, y: 14, scale: 1, colour: ink)
            legendX += 20 + Canvas.textWidth(label, scale: 1) + 28
        }
        if let last = history.last {
            var summary = "epoch \(last.epoch)"
            if let value = last.validationMeanAveragePrecision { summary += String(format: "  validation mAP %.4f", value) }
            if let first = history.first?.validationMeanAveragePrecision { summary += String(format: " (start %.4f)", first) }
            if let value = last.trainingMeanAveragePrecision { summary += String(format: "  training mAP %.4f", value) }
            canvas.text(summary, x: left, y: 34, scale: 1, colour: ink)
        }
        return canvas.image
    }

    public static func write(_ history: [EpochRecord], to url: URL) throws {
        try DurableFile.write(try ImageEncoder.png(render(history)), to: url)
    }
}
