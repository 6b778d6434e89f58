import CVectorKernels
import Testing
import LandmarkLinearAlgebra
@testable import LandmarkLocalFeatures

/// The AVX-512 blur must give the same bits as the Swift loops it replaces, so SIFT's keypoints do not move.
@Suite(.enabled(if: landmark_separable_blur_available() != 0, "this processor has no AVX-512: only the Swift loops run"))
struct GaussianBlurKernelTests {
    @Test(arguments: [(37, 23, 1.6), (200, 150, 2.0159), (5, 40, 3.2), (1, 9, 1.2), (64, 1, 1.6), (129, 77, 0.5)])
    func vectorizedBlurIsBitIdentical(width: Int, height: Int, sigma: Double) {
        var generator = SplitMix64(seed: UInt64(width * 1000 + height))
        let pixels = (0 ..< width * height).map { _ in Float(generator.next() >> 40) / Float(1 << 24) * 255 }
        let plane = Plane(width: width, height: height, pixels: pixels)
        for parallelism in [1, 2] {
            let vectorized = GaussianBlur.apply(plane, sigma: sigma, parallelism: parallelism, vectorized: true)
            let scalar = GaussianBlur.apply(plane, sigma: sigma, parallelism: parallelism, vectorized: false)
            #expect(vectorized.pixels.map(\.bitPattern) == scalar.pixels.map(\.bitPattern),
                    "\(width)×\(height) σ \(sigma), \(parallelism) chunks")
        }
    }
}
