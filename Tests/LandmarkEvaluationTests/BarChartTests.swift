import Foundation
import LandmarkImage
import Testing
@testable import LandmarkEvaluation

@Suite struct BarChartTests {
    private func same(_ a: (UInt8, UInt8, UInt8), _ b: (UInt8, UInt8, UInt8)) -> Bool { a == b }

    /// The run of `colour` pixels in column `x` that ends on the zero line, i.e. a bar's drawn height.
    private func run(of colour: (UInt8, UInt8, UInt8), in image: RGBImage, x: Int, bottom: Int) -> Int {
        var y = bottom - 1
        while y >= 0 && same(image[x, y], colour) { y -= 1 }
        return bottom - 1 - y
    }

    private let chart = BarChart(title: "mAP by pipeline", categories: ["gem", "gem+dba", "gem+dba+aqe"],
                                 series: [("devset", [40, 60, 80]), ("roxford5k", [20, 100, 50])], maximum: 100)

    @Test func rendersTheRequestedSizeDeterministically() throws {
        let image = chart.render(width: 640, height: 360)
        #expect(image.width == 640 && image.height == 360)
        #expect(chart.render(width: 640, height: 360) == image)
        let png = try ImageEncoder.png(image)
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        #expect(try ImageDecoder.decode(png, name: "chart.png") == image)
    }

    @Test func barHeightsAreProportionalToValues() {
        let width = 900, height = 480
        let image = chart.render(width: width, height: height)
        let layout = chart.layout(width: width, height: height)
        let plotHeight = Double(layout.plotBottom - layout.plotTop)
        let slot = Double(layout.plotRight - layout.plotLeft) / 3
        let barWidth = slot * 0.8 / 2
        let values: [[Double]] = [[40, 60, 80], [20, 100, 50]]
        for (series, row) in values.enumerated() {
            for (category, value) in row.enumerated() {
                let centre = Int(Double(layout.plotLeft) + slot * Double(category) + slot * 0.1 + barWidth * (Double(series) + 0.5))
                let colour = BarChart.palette[series]
                #expect(same(image[centre, layout.plotBottom - 2], colour))
                // Measured on the pixels: value / 100 of the plot height, within a pixel (the grid line drawn
                // under a bar is covered by it, so the run is unbroken).
                let drawn = run(of: colour, in: image, x: centre, bottom: layout.plotBottom)
                #expect(abs(Double(drawn) - value / 100 * plotHeight) <= 1, "series \(series) category \(category)")
                // Above the bar: no bar colour.
                #expect(!same(image[centre, layout.plotBottom - drawn - 2], colour))
            }
        }
    }

    @Test func titleLegendAndLabelsAreDrawn() {
        let image = chart.render()
        let layout = chart.layout()
        func inkPixels(_ image: RGBImage = image, x: Range<Int>, y: Range<Int>) -> Int {
            var count = 0
            for row in y { for column in x where !same(image[column, row], BarChart.background) { count += 1 } }
            return count
        }
        #expect(inkPixels(x: 0..<image.width, y: 0..<(BarChart.margin + 14)) > 100) // title
        #expect(inkPixels(x: 0..<image.width, y: (layout.plotBottom + 2)..<image.height) > 100) // category labels
        #expect(inkPixels(x: 0..<(layout.plotLeft - 2), y: layout.plotTop..<layout.plotBottom) > 50) // tick labels
        let untitled = BarChart(title: "", categories: ["a"], series: [("s", [1])]).render()
        #expect(inkPixels(x: 0..<image.width, y: 0..<BarChart.margin) == 0)
        #expect(inkPixels(untitled, x: 0..<image.width, y: 0..<(BarChart.margin + 14)) == 0)
    }

    @Test func emptyChartsAndOddValuesDoNotCrash() {
        let empty = BarChart(title: "nothing", categories: [], series: [])
        #expect(empty.render(width: 300, height: 200).width == 300)
        let noSeries = BarChart(title: "x", categories: ["a", "b"], series: [])
        #expect(noSeries.render(width: 100, height: 50).height == 50)
        let odd = BarChart(title: String(repeating: "long title ", count: 30), categories: ["a very long category name indeed", "b"],
                           series: [("nan", [.nan, -3]), ("short", [1]), ("inf", [.infinity, 2])])
        #expect(odd.render(width: 200, height: 120).width == 200)
        #expect(BarChart(title: "tiny", categories: ["a"], series: [("s", [1])]).render(width: 1, height: 1).width == 1)
    }

    @Test func axisRoundsUpToANiceTick() {
        let layout = BarChart(title: "", categories: ["a"], series: [("s", [0.73])]).layout()
        #expect(layout.tickStep == 0.2)
        #expect(abs(layout.axisMaximum - 0.8) < 1e-12)
        #expect(BarChart.format(0.6000000000000001, step: 0.2) == "0.6")
        #expect(BarChart.format(75, step: 25) == "75")
        #expect(BarChart.format(0.05, step: 0.05) == "0.05")
        #expect(BarChart.niceStep(13) == 20)
        #expect(BarChart.fit("abcdefghij", width: 35, scale: 1) == "abcde~")
    }

    @Test func writesAnExamplePNG() throws {
        let example = BarChart(title: "Ablation on devset: mAP and mP@10 (%)",
                               categories: ["gem-lite2", "+dba", "+aqe3", "+spatial100", "+dqe", "+dre (discriminative re-ranking)"],
                               series: [("mAP", [61.2, 64.8, 67.1, 70.3, 71.0, 74.6]), ("mP@10", [55, 58.5, 60, 66.1, 66.4, 70.2]),
                                        ("GAP", [48.3, 50.2, 52.9, 57.7, 58.0, 63.5])],
                               maximum: 100)
        let png = try ImageEncoder.png(example.render())
        try Data(png).write(to: FileManager.default.temporaryDirectory.appendingPathComponent("landmark-barchart-example.png"))
    }
}
