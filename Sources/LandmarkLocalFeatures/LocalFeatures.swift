import CVectorKernels
import LandmarkLinearAlgebra

/// One scale-space keypoint, in the pixel coordinates of the image the features were extracted from.
///
/// The fields follow OpenCV's `cv::KeyPoint` so results can be compared with the reference directly:
/// `size` is the diameter of the meaningful neighbourhood, `angle` is in degrees measured the way
/// OpenCV's SIFT reports it, and `octave` packs octave, layer and sub-layer offset like OpenCV does.
public struct Keypoint: Sendable, Equatable {
    public var x: Float
    public var y: Float
    public var size: Float
    /// Dominant orientation in degrees, 0 ..< 360, OpenCV convention.
    public var angle: Float
    /// Absolute interpolated difference-of-Gaussians contrast; larger is stronger.
    public var response: Float
    /// OpenCV packing: octave in the low byte (signed, −1 for the doubled image), layer in the next byte,
    /// sub-layer offset × 255 in the third.
    public var octave: Int

    public init(x: Float, y: Float, size: Float, angle: Float, response: Float, octave: Int) {
        self.x = x
        self.y = y
        self.size = size
        self.angle = angle
        self.response = response
        self.octave = octave
    }
}

/// The keypoints and descriptors of one image.
public struct LocalFeatures: Sendable {
    public var keypoints: [Keypoint]
    /// One descriptor per keypoint, N × 128, row-major.
    public var descriptors: Matrix {
        didSet { matchingForm = MatchingForm(descriptors) }
    }
    /// Size of the image the keypoint coordinates refer to (after resizing).
    public var imageWidth: Int
    public var imageHeight: Int
    /// The descriptors quantised once for the 8-bit matcher, since one image is matched against many.
    private(set) var matchingForm: MatchingForm?

    public init(keypoints: [Keypoint], descriptors: Matrix, imageWidth: Int, imageHeight: Int) {
        self.keypoints = keypoints
        self.descriptors = descriptors
        self.imageWidth = imageWidth
        self.imageHeight = imageHeight
        matchingForm = MatchingForm(descriptors)
    }

    /// Number of keypoints.
    public var count: Int { keypoints.count }
}

/// RootSIFT (Arandjelović & Zisserman 2012): Euclidean distance between transformed descriptors equals the
/// Hellinger kernel distance between the originals, which matches and retrieves better than plain SIFT.
public enum RootSIFT {
    /// L1-normalises each row, then takes element-wise square roots; rows end up with unit L2 norm
    /// (all-zero rows stay zero).
    public static func transform(_ descriptors: inout Matrix) {
        let columns = descriptors.columns
        guard columns > 0 else { return }
        descriptors.storage.withUnsafeMutableBufferPointer { buffer in
            for row in 0..<descriptors.rows {
                let base = row * columns
                var sum: Float = 0
                for column in 0..<columns { sum += abs(buffer[base + column]) }
                guard sum > 0 else { continue }
                let scale = 1 / sum
                for column in 0..<columns { buffer[base + column] = (abs(buffer[base + column]) * scale).squareRoot() }
            }
        }
    }
}

/// A descriptor set in the layouts `landmark_two_nearest_prepared` reads (about 260 bytes a descriptor
/// beside its 512 float bytes). Immutable once made; it owns the C buffers and frees them.
final class MatchingForm: @unchecked Sendable {
    // @unchecked: the C struct holds raw pointers, written only here in init and freed in deinit.
    private var set: landmark_matching_set

    /// Nil when the processor has no VNNI or the values do not suit 8 bits (see `FeatureMatcher.twoNearest`).
    init?(_ descriptors: Matrix) {
        guard landmark_descriptor_matcher_available() != 0, descriptors.rows > 0 else { return nil }
        var set = landmark_matching_set()
        let status = descriptors.storage.withUnsafeBufferPointer { values in
            landmark_matching_set_prepare(values.baseAddress, descriptors.rows, descriptors.columns, &set)
        }
        guard Int(status) == LANDMARK_MATCHER_DONE else { return nil }
        self.set = set
    }

    deinit { landmark_matching_set_release(&set) }

    /// Reads only: the same form may be both sides of one match (an image against itself).
    func withSet<Result>(_ body: (UnsafePointer<landmark_matching_set>) -> Result) -> Result {
        withUnsafePointer(to: set, body)
    }
}
