import Foundation
import LandmarkImage
import LandmarkLinearAlgebra

/// Parameters of ``SIFT``; the defaults are OpenCV's `SIFT_create` defaults plus the image size and
/// feature budget used for retrieval and verification.
public struct SIFTConfiguration: Sendable {
    /// Keep at most this many keypoints, the strongest by response (OpenCV's `retainBest`); 0 keeps all.
    public var maximumFeatures: Int
    /// Scale-space layers per octave in which extrema are searched.
    public var octaveLayers: Int
    /// Minimum interpolated contrast (images in 0…1 units) divided by `octaveLayers`, as in OpenCV.
    public var contrastThreshold: Float
    /// Maximum ratio of principal curvatures; larger keeps more edge-like points.
    public var edgeThreshold: Float
    /// Blur of the base image of the first octave.
    public var sigma: Float
    /// Longer side the image is reduced to before detection (never enlarged).
    public var imageSize: Int
    /// Transform descriptors to RootSIFT (unit L2 rows); otherwise they are OpenCV's 0…255 SIFT values.
    public var rootSIFT: Bool
    /// Start the scale space from the image doubled in size (OpenCV's default); finds more small features.
    public var upsampleInput: Bool
    /// Worker threads for blurring, detection and description.
    public var threads: Int

    public init(maximumFeatures: Int = 2000, octaveLayers: Int = 3, contrastThreshold: Float = 0.04,
                edgeThreshold: Float = 10, sigma: Float = 1.6, imageSize: Int = 1024, rootSIFT: Bool = true,
                upsampleInput: Bool = true, threads: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.maximumFeatures = maximumFeatures
        self.octaveLayers = octaveLayers
        self.contrastThreshold = contrastThreshold
        self.edgeThreshold = edgeThreshold
        self.sigma = sigma
        self.imageSize = imageSize
        self.rootSIFT = rootSIFT
        self.upsampleInput = upsampleInput
        self.threads = threads
    }
}

/// Lowe's scale-invariant feature transform, following OpenCV 4.6's detector and descriptor step by step so
/// keypoints and matches behave like the reference.
public struct SIFT: Sendable {
    public var configuration: SIFTConfiguration

    public init(_ configuration: SIFTConfiguration = .init()) {
        self.configuration = configuration
    }

    /// Resizes to `imageSize` (never enlarging), converts to grey, detects and describes. Keypoint
    /// coordinates are in the resized image's pixels.
    public func extract(_ image: RGBImage) -> LocalFeatures {
        let resized = configuration.imageSize > 0 ? image.resized(longerSide: configuration.imageSize) : image
        return extract(grayscale: resized.grayscale(), width: resized.width, height: resized.height)
    }

    /// Detects and describes on a grey image with values 0…255, row-major, as given (no resizing).
    public func extract(grayscale: [Float], width: Int, height: Int) -> LocalFeatures {
        let empty = LocalFeatures(keypoints: [], descriptors: Matrix(rows: 0, columns: 128),
                                  imageWidth: width, imageHeight: height)
        guard width > 0, height > 0, grayscale.count == width * height, configuration.octaveLayers > 0 else {
            return empty
        }
        let pyramid = ScaleSpace(grayscale: grayscale, width: width, height: height, configuration: configuration)
        guard pyramid.octaveCount > 0 else { return empty }
        var keypoints = pyramid.detect()
        keypoints = retainStrongest(keypoints, count: configuration.maximumFeatures)
        if pyramid.firstOctave < 0 {
            let factor = Float(1) / Float(1 << -pyramid.firstOctave)
            for index in keypoints.indices {
                keypoints[index].x *= factor
                keypoints[index].y *= factor
                keypoints[index].size *= factor
                let octave = keypoints[index].octave
                keypoints[index].octave = (octave & ~255) | ((octave + pyramid.firstOctave) & 255)
            }
        }
        var descriptors = pyramid.describe(keypoints)
        if configuration.rootSIFT { RootSIFT.transform(&descriptors) }
        return LocalFeatures(keypoints: keypoints, descriptors: descriptors, imageWidth: width, imageHeight: height)
    }

    /// Removes exact duplicates, then keeps the `count` largest responses plus any tied with the last kept
    /// (OpenCV's `removeDuplicatedSorted` + `retainBest`), in a deterministic order.
    func retainStrongest(_ keypoints: [Keypoint], count: Int) -> [Keypoint] {
        var sorted = keypoints.sorted { lhs, rhs in
            if lhs.x != rhs.x { return lhs.x < rhs.x }
            if lhs.y != rhs.y { return lhs.y < rhs.y }
            if lhs.size != rhs.size { return lhs.size > rhs.size }
            if lhs.angle != rhs.angle { return lhs.angle < rhs.angle }
            return lhs.response > rhs.response
        }
        var unique: [Keypoint] = []
        unique.reserveCapacity(sorted.count)
        for keypoint in sorted {
            if let last = unique.last, last.x == keypoint.x, last.y == keypoint.y, last.size == keypoint.size,
               last.angle == keypoint.angle { continue }
            unique.append(keypoint)
        }
        sorted = unique
        guard count > 0, sorted.count > count else { return sorted }
        let byResponse = sorted.enumerated().sorted { lhs, rhs in
            lhs.element.response != rhs.element.response
                ? lhs.element.response > rhs.element.response : lhs.offset < rhs.offset
        }
        let threshold = byResponse[count - 1].element.response
        var kept = byResponse.prefix(count).map(\.offset)
        for entry in byResponse.dropFirst(count) where entry.element.response >= threshold { kept.append(entry.offset) }
        kept.sort()
        return kept.map { sorted[$0] }
    }
}
