@testable import LandmarkImage
import CVectorKernels
import Testing

/// The AVX-512 resampling passes (five taps per instruction across a row, sixteen columns at a time down
/// the rows) against the portable passes. Both are PIL's integer arithmetic, so every byte must agree;
/// `TransformTests` checks the result against PIL.
@Suite struct ResamplingPassesTests {
    static func image(width: Int, height: Int, seed: UInt64) -> RGBImage {
        var state = seed
        let pixels = (0 ..< width * height * 3).map { _ -> UInt8 in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    @Test(.enabled(if: landmark_cpu_has_avx512f() != 0, "no AVX-512 here: only the one-tap pass runs"),
          arguments: [ResamplingFilter.lanczos, .bicubic, .bilinear, .box])
    func vectorPassGivesTheScalarPassBytes(_ filter: ResamplingFilter) {
        // Shrinks by 1.1 to 13 (windows of 3 to 80 taps), enlargements, and a box starting inside the row.
        let cases: [(width: Int, output: Int, start: Float, end: Float)] = [
            (1000, 512, 0, 1000), (1000, 77, 0, 1000), (517, 470, 0, 517), (300, 450, 0, 300),
            (7, 3, 0, 7), (5, 12, 0, 5), (1601, 512, 0.5, 1600.25),
        ]
        for (index, item) in cases.enumerated() {
            let source = Self.image(width: item.width, height: 6, seed: UInt64(index + 1))
            let coefficients = ResamplingCoefficients(inputSize: item.width, start: item.start, end: item.end,
                                                      outputSize: item.output, filter: filter)
            // All rows (the last window of the last row ends at the buffer's end) and a middle range.
            for rows in [0 ..< 6, 2 ..< 4] {
                let vector = resampleRows(source, rows: rows, coefficients: coefficients, vectorKernel: true)
                let scalar = resampleRows(source, rows: rows, coefficients: coefficients, vectorKernel: false)
                #expect(vector.width == scalar.width && vector.height == scalar.height)
                #expect(vector.pixels == scalar.pixels, "\(item.width) → \(item.output), rows \(rows)")
            }
        }
    }

    @Test(.enabled(if: landmark_cpu_has_avx512f() != 0, "no AVX-512 here: only the row-at-a-time pass runs"),
          arguments: [ResamplingFilter.lanczos, .bicubic, .bilinear, .box])
    func vectorVerticalPassGivesTheScalarPassBytes(_ filter: ResamplingFilter) {
        // Row lengths of 3 to 3000 bytes: no full vector, ragged tails, many vectors.
        let cases: [(width: Int, height: Int, output: Int)] = [(1, 40, 13), (5, 1000, 77), (17, 300, 450), (1000, 61, 32),
                                                               (331, 517, 470)]
        for (index, item) in cases.enumerated() {
            let source = Self.image(width: item.width, height: item.height, seed: UInt64(index + 11))
            let coefficients = ResamplingCoefficients(inputSize: item.height, start: 0, end: Float(item.height),
                                                      outputSize: item.output, filter: filter)
            let vector = resampleColumns(source, coefficients: coefficients, vectorKernel: true)
            let scalar = resampleColumns(source, coefficients: coefficients, vectorKernel: false)
            #expect(vector.width == scalar.width && vector.height == scalar.height)
            #expect(vector.pixels == scalar.pixels, "\(item.width)×\(item.height) → \(item.output) rows")
        }
    }
}
