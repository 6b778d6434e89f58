import Foundation
import LandmarkImage

/// Decode and decode-plus-resize throughput on real files.
public struct ImageDecodeBenchmarkResult: Sendable, Codable {
    public var images: Int
    public var megapixels: Double
    public var decodedPerSecond: Double
    /// Full decode, then the resize.
    public var decodedAndResizedPerSecond: Double
    public var resizeSide: Int
    /// Decode at the reduced DCT scale the default options choose for this side (PIL's thumbnail draft),
    /// then the same resize.
    public var reducedDecodedAndResizedPerSecond: Double
    /// Images the default options decode at a reduced scale (the others are decoded in full either way).
    public var reducedImages: Int
    /// Largest and mean |difference| of the resized pixels, reduced against full decoding, over all images.
    public var reducedMaximumPixelDifference: Int
    public var reducedMeanPixelDifference: Double
}

public enum ImageDecodeBenchmark {
    /// Decodes every file once to warm the page cache, then times `rounds` passes of decoding alone, of
    /// decoding plus resizing the longer side to `resizeSide`, and of the same with reduced-scale decoding,
    /// on one thread; and compares the resized pixels of the two decodings.
    public static func run(_ files: [URL], resizeSide: Int = 512, rounds: Int = 3) -> ImageDecodeBenchmarkResult {
        let payloads = files.compactMap { url -> (String, [UInt8])? in
            guard let data = try? Data(contentsOf: url) else { return nil }
            return (url.lastPathComponent, [UInt8](data))
        }
        var images: [RGBImage] = []
        var decodable: [(String, [UInt8])] = []
        for (name, bytes) in payloads {
            if let image = try? ImageDecoder.decode(bytes, name: name) {
                images.append(image)
                decodable.append((name, bytes))
            }
        }
        let megapixels = images.reduce(0.0) { $0 + Double($1.width * $1.height) } / 1e6
        var checksum = 0
        let decodeSeconds = measure(rounds: rounds) {
            for (name, bytes) in decodable {
                if let image = try? ImageDecoder.decode(bytes, name: name) { checksum &+= image.width }
            }
        }
        let resizeSeconds = measure(rounds: rounds) {
            for (name, bytes) in decodable {
                if let image = try? ImageDecoder.decode(bytes, name: name) {
                    checksum &+= image.resized(longerSide: resizeSide).width
                }
            }
        }
        let reducedOptions = ImageDecodingOptions().shrinking(to: resizeSide)
        let reducedSeconds = measure(rounds: rounds) {
            for (name, bytes) in decodable {
                if let image = try? ImageDecoder.decode(bytes, name: name, options: reducedOptions) {
                    checksum &+= image.resized(longerSide: resizeSide).width
                }
            }
        }
        var reducedImages = 0, maximumDifference = 0, differenceSum = 0, samples = 0
        for ((name, bytes), full) in zip(decodable, images) {
            guard let reduced = try? ImageDecoder.decode(bytes, name: name, options: reducedOptions) else { continue }
            guard reduced.width != full.width else { continue }
            reducedImages += 1
            let a = reduced.resized(longerSide: resizeSide), b = full.resized(longerSide: resizeSide)
            guard a.width == b.width, a.height == b.height else { continue }
            for (x, y) in zip(a.pixels, b.pixels) {
                let difference = abs(Int(x) - Int(y))
                maximumDifference = max(maximumDifference, difference)
                differenceSum += difference
            }
            samples += a.pixels.count
        }
        _ = checksum
        let count = Double(decodable.count)
        return ImageDecodeBenchmarkResult(
            images: decodable.count, megapixels: megapixels,
            decodedPerSecond: decodeSeconds > 0 ? count / decodeSeconds : 0,
            decodedAndResizedPerSecond: resizeSeconds > 0 ? count / resizeSeconds : 0,
            resizeSide: resizeSide,
            reducedDecodedAndResizedPerSecond: reducedSeconds > 0 ? count / reducedSeconds : 0,
            reducedImages: reducedImages, reducedMaximumPixelDifference: maximumDifference,
            reducedMeanPixelDifference: samples > 0 ? Double(differenceSum) / Double(samples) : 0)
    }

    /// Median seconds of one round.
    static func measure(rounds: Int, _ body: () -> Void) -> Double {
        var times: [Double] = []
        for _ in 0..<max(1, rounds) {
            let start = DispatchTime.now().uptimeNanoseconds
            body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        times.sort()
        return times[times.count / 2]
    }
}
