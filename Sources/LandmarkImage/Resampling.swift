import CVectorKernels
import Foundation

/// Resampling kernels, with PIL's definitions and support radii.
public enum ResamplingFilter: Sendable {
    /// Lanczos-3 (PIL `LANCZOS`/`ANTIALIAS`), support 3: the reference CNN's thumbnail filter.
    case lanczos
    /// Keys cubic with a = -0.5 (PIL `BICUBIC`), support 2.
    case bicubic
    /// Triangle (PIL `BILINEAR`), support 1.
    case bilinear
    /// Box (PIL `BOX`), support 0.5: area averaging when shrinking.
    case box

    var support: Double {
        switch self {
        case .lanczos: 3
        case .bicubic: 2
        case .bilinear: 1
        case .box: 0.5
        }
    }

    func weight(_ x: Double) -> Double {
        switch self {
        case .box:
            return x > -0.5 && x <= 0.5 ? 1 : 0
        case .bilinear:
            let distance = abs(x)
            return distance < 1 ? 1 - distance : 0
        case .bicubic:
            let a = -0.5, distance = abs(x)
            if distance < 1 { return ((a + 2) * distance - (a + 3)) * distance * distance + 1 }
            if distance < 2 { return (((distance - 5) * distance + 8) * distance - 4) * a }
            return 0
        case .lanczos:
            guard x >= -3, x < 3 else { return 0 }
            return Self.sinc(x) * Self.sinc(x / 3)
        }
    }

    private static func sinc(_ x: Double) -> Double {
        if x == 0 { return 1 }
        let scaled = x * Double.pi
        return sin(scaled) / scaled
    }
}

extension RGBImage {
    /// PIL `thumbnail` semantics: shrink so the longer side is `longerSide`, keep aspect ratio, never enlarge
    /// (return self if already small enough). Output size rounding exactly as PIL 9.4's thumbnail.
    ///
    /// Like PIL (reducing_gap 2.0), a large shrink first box-averages by an integer factor (`reduce`) and then
    /// resamples the rest of the way, which is what the reference CNN's `img.thumbnail((s, s), ANTIALIAS)` saw.
    public func resized(longerSide: Int, filter: ResamplingFilter = .lanczos) -> RGBImage {
        guard longerSide > 0, width > 0, height > 0,
              let (targetWidth, targetHeight) = thumbnailSize(fitting: longerSide) else { return self }
        if targetWidth == width && targetHeight == height { return self }
        let reducingGap = 2.0
        let factorX = max(Int(Double(width) / Double(targetWidth) / reducingGap), 1)
        let factorY = max(Int(Double(height) / Double(targetHeight) / reducingGap), 1)
        guard factorX > 1 || factorY > 1 else {
            return resampled(width: targetWidth, height: targetHeight, filter: filter,
                             box: (0, 0, Float(width), Float(height)))
        }
        let reduced = self.reduced(factorX: factorX, factorY: factorY)
        // PIL passes the remaining box to C as single-precision floats.
        let box = (Float(0), Float(0), Float(Double(width) / Double(factorX)), Float(Double(height) / Double(factorY)))
        return reduced.resampled(width: targetWidth, height: targetHeight, filter: filter, box: box)
    }

    /// `resized(longerSide:)`, except that the shorter side is kept at `minimumShorterSide` or more (never
    /// enlarging): a 20000 × 50 panorama shrunk to 512 px would be 512 × 1, too thin to describe, and
    /// becomes 12800 × 32 instead. Photographs of ordinary shape get exactly `resized(longerSide:)`.
    public func resized(longerSide: Int, minimumShorterSide: Int, filter: ResamplingFilter = .lanczos) -> RGBImage {
        let longer = max(width, height), shorter = min(width, height)
        guard longer > 0, shorter > 0, longerSide > 0,
              Double(shorter) * Double(longerSide) / Double(longer) < Double(minimumShorterSide) else {
            return resized(longerSide: longerSide, filter: filter)
        }
        let stretched = Int((Double(longer) * Double(minimumShorterSide) / Double(shorter)).rounded(.up))
        return resized(longerSide: max(longerSide, stretched), filter: filter)
    }

    /// Resize to exactly `width`×`height` (PIL `resize` without reducing_gap), ignoring the aspect ratio.
    public func resized(width newWidth: Int, height newHeight: Int, filter: ResamplingFilter = .lanczos) -> RGBImage {
        precondition(newWidth > 0 && newHeight > 0, "resize target must be positive, got \(newWidth)×\(newHeight)")
        if newWidth == width && newHeight == height { return self }
        return resampled(width: newWidth, height: newHeight, filter: filter, box: (0, 0, Float(width), Float(height)))
    }

    /// PIL 9.4 `thumbnail`'s `preserve_aspect_ratio`: nil when the image already fits.
    func thumbnailSize(fitting side: Int) -> (Int, Int)? {
        if side >= width && side >= height { return nil }
        let aspect = Double(width) / Double(height)
        let bound = Double(side)
        // Of floor and ceil, take the one giving the closer aspect ratio (floor on ties), at least 1.
        func roundAspect(_ value: Double, _ error: (Int) -> Double) -> Int {
            let low = Int(value.rounded(.down)), high = Int(value.rounded(.up))
            return max(error(high) < error(low) ? high : low, 1)
        }
        if bound / bound >= aspect {
            let x = roundAspect(bound * aspect) { abs(aspect - Double($0) / bound) }
            return (x, side)
        }
        let y = roundAspect(bound / aspect) { $0 == 0 ? 0 : abs(aspect - bound / Double($0)) }
        return (side, y)
    }

    /// PIL `Image.reduce`: each output pixel is the rounded mean of a factorX×factorY block; blocks at the
    /// right and bottom edges average only the pixels that exist.
    func reduced(factorX: Int, factorY: Int) -> RGBImage {
        let outWidth = (width + factorX - 1) / factorX, outHeight = (height + factorY - 1) / factorY
        var out = [UInt8](repeating: 0, count: outWidth * outHeight * 3)
        let sourceWidth = width, sourceHeight = height
        pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                for outY in 0..<outHeight {
                    let y0 = outY * factorY, y1 = min(y0 + factorY, sourceHeight)
                    for outX in 0..<outWidth {
                        let x0 = outX * factorX, x1 = min(x0 + factorX, sourceWidth)
                        var red: UInt32 = 0, green: UInt32 = 0, blue: UInt32 = 0
                        for y in y0..<y1 {
                            var index = (y * sourceWidth + x0) * 3
                            for _ in x0..<x1 {
                                red &+= UInt32(source[index])
                                green &+= UInt32(source[index + 1])
                                blue &+= UInt32(source[index + 2])
                                index += 3
                            }
                        }
                        // PIL divides with a single-precision reciprocal in 8.24 fixed point; same rounding here.
                        let count = UInt32((y1 - y0) * (x1 - x0))
                        let amend = count / 2
                        let multiplier = UInt32(Float(4_294_967_296.0) / Float(256 * count))
                        let target = (outY * outWidth + outX) * 3
                        destination[target] = UInt8(truncatingIfNeeded: ((red &+ amend) &* multiplier) >> 24)
                        destination[target + 1] = UInt8(truncatingIfNeeded: ((green &+ amend) &* multiplier) >> 24)
                        destination[target + 2] = UInt8(truncatingIfNeeded: ((blue &+ amend) &* multiplier) >> 24)
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }

    /// PIL's `ImagingResample`: separable, horizontal pass first, over the source region `box`
    /// (x0, y0, x1, y1 in source pixels), with 8-bit intermediate rows and PIL's fixed-point weights.
    func resampled(width outWidth: Int, height outHeight: Int, filter: ResamplingFilter,
                   box: (Float, Float, Float, Float)) -> RGBImage {
        let horizontal = ResamplingCoefficients(inputSize: width, start: box.0, end: box.2, outputSize: outWidth, filter: filter)
        var vertical = ResamplingCoefficients(inputSize: height, start: box.1, end: box.3, outputSize: outHeight, filter: filter)
        let needsHorizontal = outWidth != width || box.0 != 0 || box.2 != Float(outWidth)
        let needsVertical = outHeight != height || box.1 != 0 || box.3 != Float(outHeight)

        var current = self
        if needsHorizontal {
            // Only the source rows the vertical pass will read.
            let firstRow = Int(vertical.bounds[0])
            let lastRow = Int(vertical.bounds[2 * outHeight - 2] + vertical.bounds[2 * outHeight - 1])
            vertical.shiftStarts(by: -firstRow)
            current = resampleRows(self, rows: firstRow..<lastRow, coefficients: horizontal)
        }
        if needsVertical {
            current = resampleColumns(current, coefficients: vertical)
        }
        return current
    }
}

/// Per-output-pixel kernel windows and weights, normalised and converted to PIL's 22-bit fixed point.
struct ResamplingCoefficients {
    static let precisionBits = 22  // 32 - 8 - 2, as PIL: headroom for negative lobes without overflow

    /// The maximum window length; `weights` holds `kernelSize` entries per output pixel.
    let kernelSize: Int
    /// For each output pixel: first input index, then window length.
    var bounds: [Int32]
    var weights: [Int32]

    init(inputSize: Int, start: Float, end: Float, outputSize: Int, filter: ResamplingFilter) {
        let scale = Double(end - start) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        bounds = [Int32](repeating: 0, count: outputSize * 2)
        weights = [Int32](repeating: 0, count: outputSize * kernelSize)
        var window = [Double](repeating: 0, count: kernelSize)
        let inverseScale = 1 / filterScale
        for output in 0..<outputSize {
            let centre = Double(start) + (Double(output) + 0.5) * scale
            let first = max(Int(centre - support + 0.5), 0)
            let length = min(Int(centre + support + 0.5), inputSize) - first
            var total = 0.0
            for tap in 0..<max(length, 0) {
                let weight = filter.weight((Double(tap + first) - centre + 0.5) * inverseScale)
                window[tap] = weight
                total += weight
            }
            for tap in 0..<max(length, 0) {
                let normalised = total != 0 ? window[tap] / total : window[tap]
                let fixed = normalised * Double(1 << Self.precisionBits)
                weights[output * kernelSize + tap] = Int32(normalised < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            bounds[output * 2] = Int32(first)
            bounds[output * 2 + 1] = Int32(max(length, 0))
        }
    }

    mutating func shiftStarts(by offset: Int) {
        for index in stride(from: 0, to: bounds.count, by: 2) { bounds[index] += Int32(offset) }
    }
}

@inline(__always)
private func clampFixedPoint(_ value: Int32) -> UInt8 {
    if value >= Int32(1) << (ResamplingCoefficients.precisionBits + 8) { return 255 }
    if value <= 0 { return 0 }
    return UInt8(truncatingIfNeeded: value >> Int32(ResamplingCoefficients.precisionBits))
}

/// Horizontal pass over `rows` of `image`: five taps per instruction where the processor has AVX-512
/// (`landmark_resample_rows_rgb`), else one tap of three channels at a time; both are PIL's integer
/// arithmetic, so they give the same bytes.
func resampleRows(_ image: RGBImage, rows: Range<Int>, coefficients: ResamplingCoefficients,
                  vectorKernel: Bool = landmark_cpu_has_avx512f() != 0) -> RGBImage {
    let outWidth = coefficients.bounds.count / 2
    let kernelSize = coefficients.kernelSize
    let inWidth = image.width
    var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
    let rounding = Int32(1) << Int32(ResamplingCoefficients.precisionBits - 1)
    if vectorKernel && outWidth > 0 && !rows.isEmpty {
        let perGroup = Int(LANDMARK_RESAMPLING_TAPS_PER_GROUP)
        let groups = (kernelSize + perGroup - 1) / perGroup
        // Each tap's weight three times (R, G, B lanes), five taps to a sixteen-lane group.
        var laneWeights = [Int32](repeating: 0, count: outWidth * groups * 16)
        for output in 0 ..< outWidth {
            for tap in 0 ..< Int(coefficients.bounds[output * 2 + 1]) {
                let lane = (output * groups + tap / perGroup) * 16 + 3 * (tap % perGroup)
                let weight = coefficients.weights[output * kernelSize + tap]
                laneWeights[lane] = weight
                laneWeights[lane + 1] = weight
                laneWeights[lane + 2] = weight
            }
        }
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                coefficients.bounds.withUnsafeBufferPointer { bounds in
                    laneWeights.withUnsafeBufferPointer { weights in
                        guard let sourceBase = source.baseAddress, let destinationBase = destination.baseAddress,
                              let boundsBase = bounds.baseAddress, let weightsBase = weights.baseAddress else { return }
                        landmark_resample_rows_rgb(sourceBase, source.count, inWidth, rows.lowerBound, rows.count, boundsBase,
                                                   weightsBase, groups, outWidth, rounding,
                                                   Int32(ResamplingCoefficients.precisionBits), destinationBase)
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: out)
    }
    image.pixels.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { destination in
            coefficients.bounds.withUnsafeBufferPointer { bounds in
                coefficients.weights.withUnsafeBufferPointer { weights in
                    var target = 0
                    for row in rows {
                        let rowStart = row * inWidth * 3
                        for output in 0..<outWidth {
                            let first = Int(bounds[output * 2]), length = Int(bounds[output * 2 + 1])
                            let kernel = output * kernelSize
                            var index = rowStart + first * 3
                            if index + length * 3 + 1 <= source.count, let base = source.baseAddress {
                                // One 4-lane multiply-add per tap (R, G, B and an ignored fourth byte).
                                let raw = UnsafeRawPointer(base)
                                var sum = SIMD4<Int32>(repeating: rounding)
                                for tap in 0..<length {
                                    let samples = raw.loadUnaligned(fromByteOffset: index, as: SIMD4<UInt8>.self)
                                    sum &+= SIMD4<Int32>(truncatingIfNeeded: samples) &* weights[kernel + tap]
                                    index += 3
                                }
                                destination[target] = clampFixedPoint(sum[0])
                                destination[target + 1] = clampFixedPoint(sum[1])
                                destination[target + 2] = clampFixedPoint(sum[2])
                            } else {
                                var red = rounding, green = rounding, blue = rounding
                                for tap in 0..<length {
                                    let weight = weights[kernel + tap]
                                    red &+= Int32(source[index]) &* weight
                                    green &+= Int32(source[index + 1]) &* weight
                                    blue &+= Int32(source[index + 2]) &* weight
                                    index += 3
                                }
                                destination[target] = clampFixedPoint(red)
                                destination[target + 1] = clampFixedPoint(green)
                                destination[target + 2] = clampFixedPoint(blue)
                            }
                            target += 3
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: outWidth, height: rows.count, pixels: out)
}

/// Vertical pass: sixteen bytes of a row with their sums in a register across all taps where the
/// processor has AVX-512 (`landmark_resample_columns`), else whole rows accumulated one tap at a time
/// so the inner loop runs over contiguous memory; the same integer arithmetic, so the same bytes.
func resampleColumns(_ image: RGBImage, coefficients: ResamplingCoefficients,
                     vectorKernel: Bool = landmark_cpu_has_avx512f() != 0) -> RGBImage {
    let outHeight = coefficients.bounds.count / 2
    let kernelSize = coefficients.kernelSize
    let rowLength = image.width * 3
    var out = [UInt8](repeating: 0, count: rowLength * outHeight)
    let rounding = Int32(1) << Int32(ResamplingCoefficients.precisionBits - 1)
    if vectorKernel && rowLength > 0 && outHeight > 0 {
        image.pixels.withUnsafeBufferPointer { source in
            out.withUnsafeMutableBufferPointer { destination in
                coefficients.bounds.withUnsafeBufferPointer { bounds in
                    coefficients.weights.withUnsafeBufferPointer { weights in
                        guard let sourceBase = source.baseAddress, let destinationBase = destination.baseAddress,
                              let boundsBase = bounds.baseAddress, let weightsBase = weights.baseAddress else { return }
                        landmark_resample_columns(sourceBase, rowLength, boundsBase, weightsBase, kernelSize, outHeight,
                                                  rounding, Int32(ResamplingCoefficients.precisionBits), destinationBase)
                    }
                }
            }
        }
        return RGBImage(width: image.width, height: outHeight, pixels: out)
    }
    var accumulator = [Int32](repeating: 0, count: rowLength)
    image.pixels.withUnsafeBufferPointer { source in
        out.withUnsafeMutableBufferPointer { destination in
            accumulator.withUnsafeMutableBufferPointer { sums in
                coefficients.bounds.withUnsafeBufferPointer { bounds in
                    coefficients.weights.withUnsafeBufferPointer { weights in
                        for output in 0..<outHeight {
                            let first = Int(bounds[output * 2]), length = Int(bounds[output * 2 + 1])
                            for column in 0..<rowLength { sums[column] = rounding }
                            guard let sumsBase = sums.baseAddress, let sourceBase = source.baseAddress else { return }
                            for tap in 0..<length {
                                accumulateRow(sourceBase + (first + tap) * rowLength, weight: weights[output * kernelSize + tap],
                                              into: sumsBase, count: rowLength)
                            }
                            let target = output * rowLength
                            for column in 0..<rowLength { destination[target + column] = clampFixedPoint(sums[column]) }
                        }
                    }
                }
            }
        }
    }
    return RGBImage(width: image.width, height: outHeight, pixels: out)
}

/// `sums[i] += row[i] * weight` over a row, 16 samples at a time.
@inline(__always)
private func accumulateRow(_ row: UnsafePointer<UInt8>, weight: Int32, into sums: UnsafeMutablePointer<Int32>, count: Int) {
    let weights = SIMD16<Int32>(repeating: weight)
    var column = 0
    let rawRow = UnsafeRawPointer(row)
    let rawSums = UnsafeMutableRawPointer(sums)
    while column + 16 <= count {
        let samples = SIMD16<Int32>(truncatingIfNeeded: rawRow.loadUnaligned(fromByteOffset: column, as: SIMD16<UInt8>.self))
        let offset = column * MemoryLayout<Int32>.stride
        let current = rawSums.loadUnaligned(fromByteOffset: offset, as: SIMD16<Int32>.self)
        rawSums.storeBytes(of: current &+ samples &* weights, toByteOffset: offset, as: SIMD16<Int32>.self)
        column += 16
    }
    while column < count {
        sums[column] &+= Int32(row[column]) &* weight
        column += 1
    }
}
