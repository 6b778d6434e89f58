import Foundation
import LandmarkImage

/// Decode and decode-plus-resize throughput on real files.
public struct ImageDecodeBenchmarkResult: Sendable, Codable {
    public var images: Int
    public var megapixels: Double
    public var decodedPerSecond: Double
    public var decodedAndResizedPerSecond: Double
    public var resizeSide: Int
}

public enum ImageDecodeBenchmark {
    /// Decodes every file once to warm the page cache, then times `rounds` passes of decoding alone and of
    /// decoding plus resizing the longer side to `resizeSide`, on one thread.
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
        _ = checksum
        let count = Double(decodable.count)
        return ImageDecodeBenchmarkResult(
            images: decodable.count, megapixels: megapixels,
            decodedPerSecond: decodeSeconds > 0 ? count / decodeSeconds : 0,
            decodedAndResizedPerSecond: resizeSeconds > 0 ? count / resizeSeconds : 0,
            resizeSide: resizeSide)
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
