/// One putative match between two images: a point in the source (query) image and the point in the
/// target image that its descriptor was matched to, both in pixels.
public struct PointCorrespondence: Sendable, Equatable, Codable {
    public var source: SIMD2<Double>
    public var target: SIMD2<Double>

    public init(source: SIMD2<Double>, target: SIMD2<Double>) {
        self.source = source
        self.target = target
    }

    /// Both points have finite coordinates; RANSAC drops the others before sampling.
    public var isFinite: Bool {
        source.x.isFinite && source.y.isFinite && target.x.isFinite && target.y.isFinite
    }
}

/// The transformation families RANSAC can fit, from the most constrained to the most general.
public enum GeometricModelKind: String, Sendable, CaseIterable, Codable {
    /// Rotation, uniform scale and translation (4 degrees of freedom, no reflection).
    case similarity
    /// General 2-D affine map (6 degrees of freedom).
    case affine
    /// Plane projective map (8 degrees of freedom).
    case homography

    /// Number of correspondences that determine a model of this kind.
    public var minimalSampleSize: Int {
        switch self {
        case .similarity: 2
        case .affine: 3
        case .homography: 4
        }
    }
}

/// A fitted transformation from source to target pixel coordinates.
///
/// The matrix is always 3×3 row-major so that every kind can be used the same way (and handed to
/// drawing code): similarity and affine models have the bottom row `0 0 1`; homographies are scaled
/// so that `matrix[8] == 1`.
public struct GeometricModel: Sendable, Equatable, Codable {
    public let kind: GeometricModelKind
    public let matrix: [Double]

    /// Wraps a 3×3 row-major matrix; returns nil unless it has 9 finite entries.
    public init?(kind: GeometricModelKind, matrix: [Double]) {
        guard matrix.count == 9, matrix.allSatisfy(\.isFinite) else { return nil }
        self.kind = kind
        self.matrix = matrix
    }

    private enum CodingKeys: String, CodingKey { case kind, matrix }

    /// Decodes `{"kind": …, "matrix": [9 numbers]}`, rejecting anything the failable init would.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let kind = try container.decode(GeometricModelKind.self, forKey: .kind)
        let matrix = try container.decode([Double].self, forKey: .matrix)
        guard let model = GeometricModel(kind: kind, matrix: matrix) else {
            throw DecodingError.dataCorruptedError(forKey: .matrix, in: container,
                                                   debugDescription: "a model matrix needs 9 finite numbers, got \(matrix)")
        }
        self = model
    }

    /// Maps a source point into the target image. Nil when a homography sends the point to the line
    /// at infinity (or the result is not finite), so callers never see a meaningless coordinate.
    public func transform(_ p: SIMD2<Double>) -> SIMD2<Double>? {
        let m = matrix
        let x = m[0] * p.x + m[1] * p.y + m[2]
        let y = m[3] * p.x + m[4] * p.y + m[5]
        let w = m[6] * p.x + m[7] * p.y + m[8]
        guard abs(w) > 1e-12 else { return nil }
        let mapped = SIMD2(x / w, y / w)
        guard mapped.x.isFinite, mapped.y.isFinite else { return nil }
        return mapped
    }

    /// Forward transfer error ‖transform(source) − target‖ in target pixels; +∞ when the point
    /// cannot be mapped.
    public func transferError(_ correspondence: PointCorrespondence) -> Double {
        guard let mapped = transform(correspondence.source) else { return .infinity }
        let d = mapped - correspondence.target
        return (d * d).sum().squareRoot()
    }
}
