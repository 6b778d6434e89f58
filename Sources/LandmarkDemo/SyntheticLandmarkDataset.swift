import Foundation
import LandmarkStorage
import LandmarkImage
import LandmarkLinearAlgebra

/// Builds a small folder benchmark of procedurally generated landmarks, so that `landmark demo` (and
/// tests of the whole pipeline) need no download and no input.
///
/// Each landmark is a façade with its own layout — wall and trim colours, a grid of windows of one of
/// several shapes, a roof, a door, towers, bands. Each *view* of a landmark renders that façade through a
/// random perspective transform (viewpoint), under a random exposure, tint and gamma (light), in front of
/// a random sky and ground, with random occluders (trees, passers-by) and sensor noise. Distractors are
/// façades seen once. The output is a directory of JPEG files plus `ground_truth.tsv`, in exactly the
/// folder-benchmark format real datasets use.
public struct SyntheticLandmarkDataset: Sendable {
    /// How many landmarks, views and distractors to make, and how big the pictures are.
    public struct Configuration: Sendable {
        public var landmarkCount: Int
        public var viewsPerLandmark: Int
        public var distractorCount: Int
        public var width: Int
        public var height: Int
        public var seed: UInt64

        public init(landmarkCount: Int = 8, viewsPerLandmark: Int = 5, distractorCount: Int = 10,
                    width: Int = 320, height: Int = 240, seed: UInt64 = 2019) {
            self.landmarkCount = landmarkCount
            self.viewsPerLandmark = viewsPerLandmark
            self.distractorCount = distractorCount
            self.width = width
            self.height = height
            self.seed = seed
        }
    }

    /// One written image and the landmark it shows (`nil` for a distractor).
    public struct Entry: Sendable, Equatable {
        public var relativePath: String
        public var landmark: String?
    }

    public let configuration: Configuration

    public init(configuration: Configuration = .init()) {
        self.configuration = configuration
    }

    /// Renders every image and writes the folder benchmark into `directory` (created if needed).
    /// - Returns: the entries, in `ground_truth.tsv` order.
    @discardableResult
    public func write(to directory: URL) throws -> [Entry] {
        let fileManager = FileManager.default
        let imagesDirectory = directory.appendingPathComponent("images", isDirectory: true)
        try fileManager.createDirectory(at: imagesDirectory, withIntermediateDirectories: true)
        var entries: [Entry] = []
        var generator = SplitMix64(seed: configuration.seed)
        let names = Self.landmarkNames
        for landmarkIndex in 0..<configuration.landmarkCount {
            let façade = Façade.random(using: &generator)
            let name = landmarkIndex < names.count ? names[landmarkIndex] : "landmark_\(landmarkIndex)"
            for view in 0..<configuration.viewsPerLandmark {
                let image = render(façade, using: &generator)
                let path = "images/\(name)__\(view + 1).jpg"
                try write(image, to: directory.appendingPathComponent(path))
                entries.append(Entry(relativePath: path, landmark: name))
            }
        }
        for distractor in 0..<configuration.distractorCount {
            let façade = Façade.random(using: &generator)
            let image = render(façade, using: &generator)
            let path = "images/distractor__\(distractor + 1).jpg"
            try write(image, to: directory.appendingPathComponent(path))
            entries.append(Entry(relativePath: path, landmark: nil))
        }
        var tsv = "image\tlandmark\n"
        for entry in entries { tsv += "\(entry.relativePath)\t\(entry.landmark ?? "")\n" }
        try DurableFile.write(Data(tsv.utf8), to: directory.appendingPathComponent("ground_truth.tsv"))
        return entries
    }

    static let landmarkNames = [
        "grand_hall", "clock_tower", "old_library", "opera_house", "town_gate", "river_palace",
        "cathedral", "museum", "observatory", "guild_house", "bell_tower", "city_hall",
    ]

    private func write(_ image: RGBImage, to url: URL) throws {
        let bytes = try ImageEncoder.jpeg(image, quality: 90)
        try DurableFile.write(bytes, to: url)
    }

    // MARK: - Rendering

    /// Renders one view: sky and ground, the façade through a random homography, occluders, light, noise.
    func render(_ façade: Façade, using generator: inout SplitMix64) -> RGBImage {
        let width = configuration.width, height = configuration.height
        let w = Double(width), h = Double(height)
        // Viewpoint: the façade's unit square maps to a jittered quadrilateral.
        let scale = generator.uniform(0.55, 0.85)
        let centreX = w / 2 + generator.uniform(-0.12, 0.12) * w
        let centreY = h * 0.5 + generator.uniform(-0.06, 0.06) * h
        let halfWidth = scale * w / 2
        let halfHeight = halfWidth * façade.aspect
        let skew = generator.uniform(-0.18, 0.18)   // a turn about the vertical axis shortens one side
        let corners: [(Double, Double)] = [
            (centreX - halfWidth, centreY - halfHeight * (1 - skew) + generator.uniform(-4, 4)),
            (centreX + halfWidth, centreY - halfHeight * (1 + skew) + generator.uniform(-4, 4)),
            (centreX + halfWidth + generator.uniform(-6, 6), centreY + halfHeight * (1 + skew)),
            (centreX - halfWidth + generator.uniform(-6, 6), centreY + halfHeight * (1 - skew)),
        ]
        let unitSquare: [(Double, Double)] = [(0, 0), (1, 0), (1, 1), (0, 1)]
        let imageToFaçade = Homography(from: corners, to: unitSquare)
        let horizon = centreY + halfHeight * 0.9 + generator.uniform(-5, 5)
        let skyTop = Colour.random(using: &generator, hue: 0.58, spread: 0.06, saturation: 0.35, value: 0.95)
        let skyBottom = skyTop.mixed(with: Colour(0.95, 0.93, 0.9), 0.6)
        let ground = Colour.random(using: &generator, hue: generator.uniform(0.05, 0.3), spread: 0.05,
                                   saturation: 0.25, value: 0.45)
        // Light: exposure, colour cast and gamma of the whole view.
        let exposure = generator.uniform(0.8, 1.15)
        let tint = Colour(generator.uniform(0.94, 1.06), generator.uniform(0.94, 1.06), generator.uniform(0.94, 1.06))
        let gamma = generator.uniform(0.85, 1.15)
        let occluders = (0..<Int(generator.uniform(0, 3.99))).map { _ in Occluder.random(width: w, height: h, using: &generator) }

        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let py = Double(y) + 0.5
            for x in 0..<width {
                let px = Double(x) + 0.5
                var colour: Colour
                if let occluder = occluders.first(where: { $0.contains(px, py) }) {
                    colour = occluder.colour
                } else if let (u, v) = imageToFaçade.apply(px, py), let façadeColour = façade.colour(u: u, v: v) {
                    colour = façadeColour
                } else if py < horizon {
                    colour = skyTop.mixed(with: skyBottom, min(1, max(0, py / horizon)))
                } else {
                    colour = ground
                }
                colour = Colour(colour.r * tint.r, colour.g * tint.g, colour.b * tint.b)
                let offset = (y * width + x) * 3
                for (channel, value) in [colour.r, colour.g, colour.b].enumerated() {
                    let lit = pow(min(1, max(0, value * exposure)), gamma)
                    let noisy = lit * 255 + generator.uniform(-6, 6)
                    pixels[offset + channel] = UInt8(min(255, max(0, noisy.rounded())))
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}

// MARK: - Façade model

/// The procedural description of one landmark's front, in façade coordinates: u ∈ [0, 1] left to right,
/// v ∈ [0, 1] top to bottom of the main block (a roof and towers may extend above it, v < 0).
struct Façade: Sendable {
    enum WindowShape: CaseIterable { case rectangle, arch, round, tall }
    enum Roof: CaseIterable { case flat, gable, dome, crenellated }

    var aspect: Double            // height / width of the main block
    var wall: Colour
    var trim: Colour
    var glass: Colour
    var roofColour: Colour
    var windowRows: Int
    var windowColumns: Int
    var windowShape: WindowShape
    var roof: Roof
    var bands: Int                // horizontal cornices
    var hasTowers: Bool
    var doorWidth: Double
    var stripes: Int              // vertical pilasters

    static func random(using generator: inout SplitMix64) -> Façade {
        let wallHue = generator.uniform(0, 1)
        let wall = Colour.random(using: &generator, hue: wallHue, spread: 0, saturation: generator.uniform(0.1, 0.55),
                                 value: generator.uniform(0.55, 0.95))
        return Façade(
            aspect: generator.uniform(0.45, 0.9),
            wall: wall,
            trim: Colour.random(using: &generator, hue: generator.uniform(0, 1), spread: 0,
                                saturation: generator.uniform(0, 0.6), value: generator.uniform(0.2, 1)),
            glass: Colour.random(using: &generator, hue: generator.uniform(0.5, 0.7), spread: 0,
                                 saturation: generator.uniform(0.1, 0.5), value: generator.uniform(0.1, 0.45)),
            roofColour: Colour.random(using: &generator, hue: generator.uniform(0, 0.1), spread: 0,
                                      saturation: generator.uniform(0.2, 0.7), value: generator.uniform(0.2, 0.6)),
            windowRows: Int(generator.uniform(2, 5.99)),
            windowColumns: Int(generator.uniform(3, 9.99)),
            windowShape: WindowShape.allCases[Int(generator.uniform(0, Double(WindowShape.allCases.count) - 0.01))],
            roof: Roof.allCases[Int(generator.uniform(0, Double(Roof.allCases.count) - 0.01))],
            bands: Int(generator.uniform(0, 3.99)),
            hasTowers: generator.uniform(0, 1) < 0.4,
            doorWidth: generator.uniform(0.08, 0.2),
            stripes: Int(generator.uniform(0, 6.99)))
    }

    /// The façade's colour at (u, v), or nil where the façade is not (sky shows through).
    func colour(u: Double, v: Double) -> Colour? {
        guard u >= -0.08, u <= 1.08, v <= 1 else { return nil }
        // Towers at both ends, taller than the block.
        if hasTowers, (u < 0.1 || u > 0.9), v >= -0.35, u >= -0.08, u <= 1.08 {
            if v < -0.25 { return roofColour }
            let inWindow = abs((u < 0.1 ? u + 0.08 : u - 0.9) / 0.18 - 0.5) < 0.2 && Int(((v + 0.35) * 10).rounded(.down)) % 3 == 1
            return inWindow ? glass : wall.mixed(with: trim, 0.25)
        }
        guard u >= 0, u <= 1 else { return nil }
        if v < 0 { return roofColour(u: u, v: v) }
        // Door at the bottom centre.
        if v > 0.78, abs(u - 0.5) < doorWidth / 2 {
            return v > 0.8 ? trim.mixed(with: Colour(0.1, 0.08, 0.06), 0.6) : trim
        }
        // Cornices.
        if bands > 0 {
            for band in 1...bands {
                let position = Double(band) / Double(bands + 1)
                if abs(v - position) < 0.015 { return trim }
            }
        }
        if v < 0.03 || v > 0.98 { return trim }
        // Pilasters.
        if stripes > 0 {
            let position = u * Double(stripes + 1)
            if abs(position - position.rounded()) * (1 / Double(stripes + 1)) < 0.008, position.rounded() >= 1,
               position.rounded() <= Double(stripes) {
                return wall.mixed(with: trim, 0.5)
            }
        }
        // Windows on a grid above the ground floor band.
        let gridTop = 0.08, gridBottom = 0.74
        if v >= gridTop, v <= gridBottom {
            let cellHeight = (gridBottom - gridTop) / Double(windowRows)
            let cellWidth = 1.0 / Double(windowColumns)
            let row = Int((v - gridTop) / cellHeight), column = Int(u / cellWidth)
            let localU = (u - Double(column) * cellWidth) / cellWidth
            let localV = (v - gridTop - Double(row) * cellHeight) / cellHeight
            if let window = windowColour(localU: localU, localV: localV) { return window }
        }
        return wall
    }

    private func windowColour(localU: Double, localV: Double) -> Colour? {
        let du = abs(localU - 0.5), dv = localV
        let inside: Bool
        switch windowShape {
        case .rectangle: inside = du < 0.28 && dv > 0.2 && dv < 0.8
        case .tall: inside = du < 0.18 && dv > 0.1 && dv < 0.9
        case .round: inside = (du * du + (dv - 0.5) * (dv - 0.5)) < 0.09
        case .arch:
            inside = du < 0.25 && dv < 0.85 && (dv > 0.4 || (du * du + (dv - 0.4) * (dv - 0.4)) < 0.0625)
        }
        if inside {
            // Mullions.
            if abs(localU - 0.5) < 0.02 { return trim }
            return glass
        }
        if du < 0.33, dv > 0.82, dv < 0.9 { return trim }   // sills
        return nil
    }

    private func roofColour(u: Double, v: Double) -> Colour? {
        switch roof {
        case .flat:
            return v > -0.04 ? trim : nil
        case .gable:
            let height = 0.3 * (1 - abs(u - 0.5) * 2)
            return -v < height ? roofColour : nil
        case .dome:
            let dx = (u - 0.5) / 0.25, dy = -v / 0.25
            if dx * dx + dy * dy < 1 { return roofColour.mixed(with: Colour(0.4, 0.55, 0.45), 0.5) }
            return v > -0.04 ? trim : nil
        case .crenellated:
            if v > -0.05 { return trim }
            return (v > -0.1 && Int(u * 20) % 2 == 0) ? trim : nil
        }
    }
}

/// Something in front of the landmark in one view: a tree crown or a passer-by.
struct Occluder: Sendable {
    var centreX: Double, centreY: Double, radiusX: Double, radiusY: Double
    var colour: Colour
    var isRectangle: Bool

    static func random(width: Double, height: Double, using generator: inout SplitMix64) -> Occluder {
        let isTree = generator.uniform(0, 1) < 0.5
        if isTree {
            return Occluder(centreX: generator.uniform(0, width), centreY: generator.uniform(0.4, 0.9) * height,
                            radiusX: generator.uniform(0.06, 0.14) * width, radiusY: generator.uniform(0.1, 0.2) * height,
                            colour: Colour.random(using: &generator, hue: generator.uniform(0.22, 0.38), spread: 0,
                                                  saturation: 0.6, value: generator.uniform(0.25, 0.5)),
                            isRectangle: false)
        }
        return Occluder(centreX: generator.uniform(0, width), centreY: generator.uniform(0.75, 0.95) * height,
                        radiusX: generator.uniform(0.015, 0.04) * width, radiusY: generator.uniform(0.08, 0.15) * height,
                        colour: Colour.random(using: &generator, hue: generator.uniform(0, 1), spread: 0,
                                              saturation: 0.5, value: generator.uniform(0.1, 0.7)),
                        isRectangle: true)
    }

    func contains(_ x: Double, _ y: Double) -> Bool {
        let dx = (x - centreX) / radiusX, dy = (y - centreY) / radiusY
        return isRectangle ? (abs(dx) < 1 && abs(dy) < 1) : (dx * dx + dy * dy < 1)
    }
}

/// A linear RGB colour with components in [0, 1].
struct Colour: Sendable, Equatable {
    var r: Double, g: Double, b: Double
    init(_ r: Double, _ g: Double, _ b: Double) { self.r = r; self.g = g; self.b = b }

    func mixed(with other: Colour, _ t: Double) -> Colour {
        Colour(r + (other.r - r) * t, g + (other.g - g) * t, b + (other.b - b) * t)
    }

    static func random(using generator: inout SplitMix64, hue: Double, spread: Double, saturation: Double,
                       value: Double) -> Colour {
        let h = (hue + generator.uniform(-spread, spread) + 1).truncatingRemainder(dividingBy: 1) * 6
        let c = value * saturation
        let x = c * (1 - abs(h.truncatingRemainder(dividingBy: 2) - 1))
        let m = value - c
        let (r, g, b): (Double, Double, Double)
        switch Int(h) {
        case 0: (r, g, b) = (c, x, 0)
        case 1: (r, g, b) = (x, c, 0)
        case 2: (r, g, b) = (0, c, x)
        case 3: (r, g, b) = (0, x, c)
        case 4: (r, g, b) = (x, 0, c)
        default: (r, g, b) = (c, 0, x)
        }
        return Colour(r + m, g + m, b + m)
    }
}

/// A plane-to-plane projective map, estimated from four point pairs.
struct Homography: Sendable {
    var h: [Double]   // 3×3 row-major, h[8] = 1

    init(from source: [(Double, Double)], to target: [(Double, Double)]) {
        precondition(source.count == 4 && target.count == 4, "a homography needs four point pairs")
        // Solve the 8×8 system A·h = b by Gaussian elimination with partial pivoting.
        var a = [[Double]](repeating: [Double](repeating: 0, count: 9), count: 8)
        for i in 0..<4 {
            let (x, y) = source[i], (u, v) = target[i]
            a[2 * i] = [x, y, 1, 0, 0, 0, -u * x, -u * y, u]
            a[2 * i + 1] = [0, 0, 0, x, y, 1, -v * x, -v * y, v]
        }
        for column in 0..<8 {
            var pivot = column
            for row in column..<8 where abs(a[row][column]) > abs(a[pivot][column]) { pivot = row }
            a.swapAt(column, pivot)
            let divisor = a[column][column]
            guard abs(divisor) > 1e-12 else { continue }
            for k in column..<9 { a[column][k] /= divisor }
            for row in 0..<8 where row != column {
                let factor = a[row][column]
                if factor == 0 { continue }
                for k in column..<9 { a[row][k] -= factor * a[column][k] }
            }
        }
        h = (0..<8).map { a[$0][8] } + [1]
    }

    func apply(_ x: Double, _ y: Double) -> (Double, Double)? {
        let w = h[6] * x + h[7] * y + h[8]
        guard abs(w) > 1e-12 else { return nil }
        return ((h[0] * x + h[1] * y + h[2]) / w, (h[3] * x + h[4] * y + h[5]) / w)
    }
}

extension SplitMix64 {
    /// Uniform in [lower, upper).
    mutating func uniform(_ lower: Double, _ upper: Double) -> Double {
        lower + (upper - lower) * Double(next() >> 11) / Double(1 << 53)
    }
}
