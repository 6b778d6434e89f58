import LandmarkImage

/// A grouped bar chart rendered to pixels, for ablation reports that must be readable without a plotting
/// library: one group of bars per category (a pipeline variant), one bar per series (a metric or dataset),
/// a y axis with round tick values, a legend and category labels, all drawn with a built-in 5×7 font.
public struct BarChart: Sendable {
    public struct Series: Sendable, Equatable {
        public var name: String
        public var values: [Double]
    }

    public var title: String
    public var categories: [String]
    public var series: [Series]
    /// The top of the y axis; nil rounds the largest value up to a tick.
    public var maximum: Double?

    /// Bar colours, one per series in order (repeating after eight); distinct in hue and lightness so they
    /// survive greyscale printing.
    public static let palette: [(UInt8, UInt8, UInt8)] = [
        (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
        (148, 103, 189), (140, 86, 75), (227, 119, 194), (23, 190, 207),
    ]
    public static let background: (UInt8, UInt8, UInt8) = (255, 255, 255)
    static let ink: (UInt8, UInt8, UInt8) = (0, 0, 0)
    static let grid: (UInt8, UInt8, UInt8) = (225, 225, 225)

    /// - Parameter series: values per category; a series shorter than `categories` has no bar for the missing
    ///   ones, as does a NaN value. Negative values draw as empty bars (the axis starts at 0).
    public init(title: String, categories: [String], series: [(name: String, values: [Double])], maximum: Double? = nil) {
        self.title = title
        self.categories = categories
        self.series = series.map { Series(name: $0.name, values: $0.values) }
        self.maximum = maximum
    }

    /// Where things go in an image of the given size; exposed so that tests can check the drawing.
    public struct Layout: Sendable, Equatable {
        /// The plot area, x in `plotLeft..<plotRight`, y in `plotTop..<plotBottom`; the zero line is `plotBottom`.
        public var plotLeft: Int, plotRight: Int, plotTop: Int, plotBottom: Int
        /// The value at the top of the axis.
        public var axisMaximum: Double
        public var tickStep: Double

        /// Pixel height of a bar for `value`.
        public func barHeight(_ value: Double) -> Int {
            guard value.isFinite, value > 0, axisMaximum > 0 else { return 0 }
            return Int((min(value, axisMaximum) / axisMaximum * Double(plotBottom - plotTop)).rounded())
        }
    }

    static let titleScale = 2
    static let margin = 16

    public func layout(width: Int = 900, height: Int = 480) -> Layout {
        let values = series.flatMap(\.values).filter { $0.isFinite }
        let largest = max(values.max() ?? 0, 0)
        let (axisMaximum, step): (Double, Double)
        if let maximum, maximum > 0 {
            (axisMaximum, step) = (maximum, Self.niceStep(maximum / 5))
        } else if largest > 0 {
            let tick = Self.niceStep(largest / 5)
            (axisMaximum, step) = ((largest / tick).rounded(.up) * tick, tick)
        } else {
            (axisMaximum, step) = (1, 0.2)
        }
        let labelScale = Self.textScale(width: width)
        let tickLabelWidth = Self.ticks(maximum: axisMaximum, step: step)
            .map { Self.format($0, step: step).count * BitmapFont.advance * labelScale }.max() ?? 0
        let glyphHeight = BitmapFont.glyphHeight
        let top = Self.margin + glyphHeight * Self.titleScale + 12 + glyphHeight * labelScale + 16
        return Layout(plotLeft: Self.margin + tickLabelWidth + 8, plotRight: max(width - Self.margin, 0),
                      plotTop: top, plotBottom: max(height - Self.margin - glyphHeight * labelScale - 10, top),
                      axisMaximum: axisMaximum, tickStep: step)
    }

    public func render(width: Int = 900, height: Int = 480) -> RGBImage {
        var canvas = Canvas(width: max(width, 1), height: max(height, 1), colour: Self.background)
        let layout = layout(width: width, height: height)
        let scale = Self.textScale(width: width)
        let glyphHeight = BitmapFont.glyphHeight

        canvas.text(Self.fit(title, width: width - 2 * Self.margin, scale: Self.titleScale),
                    centreX: width / 2, y: Self.margin, scale: Self.titleScale, colour: Self.ink)

        // Legend: swatch and name per series, centred on one line under the title.
        let legendY = Self.margin + glyphHeight * Self.titleScale + 12
        let swatch = BitmapFont.capitalHeight * scale
        let entries = series.map { $0.name }
        let entryWidths = entries.map { swatch + 6 + Canvas.textWidth($0, scale: scale) + 18 }
        var x = max((width - entryWidths.reduce(0, +)) / 2, Self.margin)
        for (index, name) in entries.enumerated() {
            canvas.fill(x: x, y: legendY, width: swatch, height: swatch, colour: Self.colour(index))
            canvas.text(name, x: x + swatch + 6, y: legendY, scale: scale, colour: Self.ink)
            x += entryWidths[index]
        }

        // Grid and tick labels.
        let plotHeight = layout.plotBottom - layout.plotTop
        for tick in Self.ticks(maximum: layout.axisMaximum, step: layout.tickStep) {
            let y = layout.plotBottom - Int((tick / layout.axisMaximum * Double(plotHeight)).rounded())
            if tick > 0 {
                canvas.fill(x: layout.plotLeft, y: y, width: layout.plotRight - layout.plotLeft, height: 1, colour: Self.grid)
            }
            let label = Self.format(tick, step: layout.tickStep)
            canvas.text(label, x: layout.plotLeft - 8 - Canvas.textWidth(label, scale: scale),
                        y: y - BitmapFont.capitalHeight * scale / 2, scale: scale, colour: Self.ink)
        }

        // Bars: each category's group takes 80% of its slot, split evenly between the series.
        if !categories.isEmpty {
            let slot = Double(layout.plotRight - layout.plotLeft) / Double(categories.count)
            let barWidth = series.isEmpty ? 0 : slot * 0.8 / Double(series.count)
            for (category, name) in categories.enumerated() {
                let slotLeft = Double(layout.plotLeft) + slot * Double(category)
                for (index, entry) in series.enumerated() where category < entry.values.count {
                    let barHeight = layout.barHeight(entry.values[category])
                    let left = Int((slotLeft + slot * 0.1 + barWidth * Double(index)).rounded())
                    let right = Int((slotLeft + slot * 0.1 + barWidth * Double(index + 1)).rounded())
                    canvas.fill(x: left, y: layout.plotBottom - barHeight, width: max(right - left - 1, 1),
                                height: barHeight, colour: Self.colour(index))
                }
                let labelScale = Canvas.textWidth(name, scale: scale) <= Int(slot) - 4 ? scale : 1
                canvas.text(Self.fit(name, width: Int(slot) - 4, scale: labelScale),
                            centreX: Int((slotLeft + slot / 2).rounded()), y: layout.plotBottom + 6,
                            scale: labelScale, colour: Self.ink)
            }
        }

        // Axes last, so bars never cover them.
        canvas.fill(x: layout.plotLeft, y: layout.plotTop, width: 1, height: plotHeight + 1, colour: Self.ink)
        canvas.fill(x: layout.plotLeft, y: layout.plotBottom, width: layout.plotRight - layout.plotLeft, height: 1,
                    colour: Self.ink)
        return canvas.image
    }

    static func colour(_ series: Int) -> (UInt8, UInt8, UInt8) { palette[series % palette.count] }

    /// Text at double size on charts wide enough for it; 5×7 pixels alone are hard to read on screen.
    static func textScale(width: Int) -> Int { width >= 600 ? 2 : 1 }

    /// 1, 2 or 5 times a power of ten, the smallest not below `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough.isFinite, rough > 0 else { return 1 }
        let power = Double.pow10(Int((rough.log10()).rounded(.down)))
        for multiple in [1.0, 2, 5, 10] where multiple * power >= rough * (1 - 1e-9) { return multiple * power }
        return 10 * power
    }

    static func ticks(maximum: Double, step: Double) -> [Double] {
        guard step > 0, maximum.isFinite else { return [0] }
        var ticks: [Double] = []
        var index = 0
        while Double(index) * step <= maximum * (1 + 1e-9) && ticks.count < 50 {
            ticks.append(Double(index) * step)
            index += 1
        }
        return ticks
    }

    /// `value` with as many decimals as the tick step needs (0.25 → two, 5 → none).
    static func format(_ value: Double, step: Double) -> String {
        var decimals = 0
        var scaled = step
        while decimals < 6 && abs(scaled - scaled.rounded()) > 1e-6 * max(1, abs(scaled)) {
            scaled *= 10
            decimals += 1
        }
        let factor = Double.pow10(decimals)
        let units = Int((value * factor).rounded())
        let sign = units < 0 ? "-" : ""
        let digits = String(abs(units))
        guard decimals > 0 else { return sign + digits }
        let padded = String(repeating: "0", count: max(decimals + 1 - digits.count, 0)) + digits
        return sign + padded.dropLast(decimals) + "." + padded.suffix(decimals)
    }

    /// `text` shortened with a trailing "~" until it fits `width` pixels.
    static func fit(_ text: String, width: Int, scale: Int) -> String {
        let capacity = max((width + scale) / (BitmapFont.advance * scale), 0)
        guard text.count > capacity else { return text }
        guard capacity > 1 else { return String(text.prefix(capacity)) }
        return String(text.prefix(capacity - 1)) + "~"
    }
}

private extension Double {
    static func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }

    func log10() -> Double {
        // Counting decades is exact for the powers of ten that tick steps land on, unlike a libm call.
        var exponent = 0.0, value = self
        while value >= 10 { value /= 10; exponent += 1 }
        while value < 1 { value *= 10; exponent -= 1 }
        return exponent
    }
}

/// An RGB pixel buffer with clipped rectangle and text drawing (the built-in 5×7 font), shared by the
/// report pictures: bar charts here, training curves in LandmarkTraining.
public struct Canvas: Sendable {
    public private(set) var image: RGBImage

    public init(width: Int, height: Int, colour: (UInt8, UInt8, UInt8)) {
        image = RGBImage(width: width, height: height, repeating: colour)
    }

    /// Draws over an existing picture.
    public init(image: RGBImage) {
        self.image = image
    }

    public mutating func fill(x: Int, y: Int, width: Int, height: Int, colour: (UInt8, UInt8, UInt8)) {
        let left = max(x, 0), right = min(x + width, image.width)
        let top = max(y, 0), bottom = min(y + height, image.height)
        guard left < right, top < bottom else { return }
        let imageWidth = image.width
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            for row in top..<bottom {
                var index = (row * imageWidth + left) * 3
                for _ in left..<right {
                    pixels[index] = colour.0
                    pixels[index + 1] = colour.1
                    pixels[index + 2] = colour.2
                    index += 3
                }
            }
        }
    }

    /// Copies `picture` with its top-left corner at (x, y), clipped to the canvas (contact sheets).
    public mutating func draw(_ picture: RGBImage, x: Int, y: Int) {
        let left = max(x, 0), right = min(x + picture.width, image.width)
        let top = max(y, 0), bottom = min(y + picture.height, image.height)
        guard left < right, top < bottom else { return }
        let imageWidth = image.width, pictureWidth = picture.width
        image.pixels.withUnsafeMutableBufferPointer { pixels in
            picture.pixels.withUnsafeBufferPointer { source in
                for row in top..<bottom {
                    let target = (row * imageWidth + left) * 3, from = ((row - y) * pictureWidth + (left - x)) * 3
                    for offset in 0..<(right - left) * 3 { pixels[target + offset] = source[from + offset] }
                }
            }
        }
    }

    public static func textWidth(_ text: String, scale: Int) -> Int {
        text.isEmpty ? 0 : (text.count * BitmapFont.advance - 1) * scale
    }

    public mutating func text(_ text: String, centreX: Int, y: Int, scale: Int, colour: (UInt8, UInt8, UInt8)) {
        self.text(text, x: centreX - Self.textWidth(text, scale: scale) / 2, y: y, scale: scale, colour: colour)
    }

    public mutating func text(_ text: String, x: Int, y: Int, scale: Int, colour: (UInt8, UInt8, UInt8)) {
        var penX = x
        for character in text {
            for (row, bits) in BitmapFont.glyph(character).enumerated() {
                for column in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(column)) != 0 {
                    fill(x: penX + column * scale, y: y + row * scale, width: scale, height: scale, colour: colour)
                }
            }
            penX += BitmapFont.advance * scale
        }
    }
}
