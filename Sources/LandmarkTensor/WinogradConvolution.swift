import Foundation
import CVectorKernels
import LandmarkLinearAlgebra

/// Winograd's minimal filtering F(2 × 2, 3 × 3) for dense 3 × 3 stride-1 convolutions: each 2 × 2
/// block of output comes from a 4 × 4 input patch with 16 multiplications per channel pair instead
/// of 36, so the 16 matrix products (one per transformed position ξ, Cout × Cin times Cin × tiles)
/// do 2.25× fewer operations than im2col's. The transforms only add and subtract (the weight
/// transform's halves are exact), and the rounding they add is of the order of float32's epsilon
/// times the input magnitude — far inside the 1e-4 the descriptors are held to.
///
/// Transforms (Lavin & Gray 2015): V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ [U ⊙ V] A with
/// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
/// Aᵀ = [1 1 1 0; 0 1 −1 −1].
enum Winograd {
    /// The transformed weight matrices for `tile`, `[ξ][out][in]`.
    static func transformWeights(_ weights: [Float], outputChannels: Int, inputChannels: Int,
                                 tile: WinogradTile) -> [Float] {
        switch tile {
        case .two: transformWeights(weights, outputChannels: outputChannels, inputChannels: inputChannels)
        case .four: transformWeightsFourByFour(weights, outputChannels: outputChannels, inputChannels: inputChannels)
        }
    }

    /// F(4 × 4, 3 × 3)'s 36 transformed weight matrices, `[ξ][out][in]`: U = G g Gᵀ with
    /// G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1⁄24 1⁄12 ⅙; 1⁄24 −1⁄12 ⅙; 0 0 1], in double precision so that
    /// the sixths and twenty-fourths round once, at the final store.
    static func transformWeightsFourByFour(_ weights: [Float], outputChannels: Int, inputChannels: Int) -> [Float] {
        var transformed = [Float](repeating: 0, count: 36 * outputChannels * inputChannels)
        let pairs = outputChannels * inputChannels
        // Products by the reciprocals rather than divisions, which are several times slower: they
        // differ by an ulp of double, some 10⁻⁹ of float's rounding step.
        let sixth = 1.0 / 6, twelfth = 1.0 / 12, twentyFourth = 1.0 / 24
        @inline(__always) func rowsOfG(_ g0: Double, _ g1: Double, _ g2: Double)
            -> (Double, Double, Double, Double, Double, Double) {
            let outer = g0 + g2
            return (g0 * 0.25, -(outer + g1) * sixth, -(outer - g1) * sixth,
                    g0 * twentyFourth + g1 * twelfth + g2 * sixth, g0 * twentyFourth - g1 * twelfth + g2 * sixth, g2)
        }
        weights.withUnsafeBufferPointer { weights in
            transformed.withUnsafeMutableBufferPointer { transformed in
                for pair in 0 ..< pairs {
                    let base = pair * 9
                    // G g: 6 × 3, one column of g at a time.
                    let c0 = rowsOfG(Double(weights[base]), Double(weights[base + 3]), Double(weights[base + 6]))
                    let c1 = rowsOfG(Double(weights[base + 1]), Double(weights[base + 4]), Double(weights[base + 7]))
                    let c2 = rowsOfG(Double(weights[base + 2]), Double(weights[base + 5]), Double(weights[base + 8]))
                    @inline(__always) func store(_ row: Int, _ a0: Double, _ a1: Double, _ a2: Double) {
                        let r = rowsOfG(a0, a1, a2)
                        transformed[(row * 6) * pairs + pair] = Float(r.0)
                        transformed[(row * 6 + 1) * pairs + pair] = Float(r.1)
                        transformed[(row * 6 + 2) * pairs + pair] = Float(r.2)
                        transformed[(row * 6 + 3) * pairs + pair] = Float(r.3)
                        transformed[(row * 6 + 4) * pairs + pair] = Float(r.4)
                        transformed[(row * 6 + 5) * pairs + pair] = Float(r.5)
                    }
                    // (G g) Gᵀ: row r of G g times Gᵀ is G applied to that row.
                    store(0, c0.0, c1.0, c2.0)
                    store(1, c0.1, c1.1, c2.1)
                    store(2, c0.2, c1.2, c2.2)
                    store(3, c0.3, c1.3, c2.3)
                    store(4, c0.4, c1.4, c2.4)
                    store(5, c0.5, c1.5, c2.5)
                }
            }
        }
        return transformed
    }

    /// The 16 transformed weight matrices of F(2 × 2, 3 × 3), `[ξ][out][in]`.
    static func transformWeights(_ weights: [Float], outputChannels: Int, inputChannels: Int) -> [Float] {
        var transformed = [Float](repeating: 0, count: 16 * outputChannels * inputChannels)
        let pairs = outputChannels * inputChannels
        // No arrays inside the loop: a layer has up to 512 × 512 pairs, and an allocation per pair cost
        // more than the arithmetic (the transform runs again at every training step).
        weights.withUnsafeBufferPointer { weights in
            transformed.withUnsafeMutableBufferPointer { transformed in
                for pair in 0 ..< pairs {
                    let base = pair * 9
                    // G g: 4 × 3, row by row.
                    var left: (SIMD4<Double>, SIMD4<Double>, SIMD4<Double>) = (.zero, .zero, .zero)  // columns of G g
                    for column in 0 ..< 3 {
                        let g0 = Double(weights[base + column]), g1 = Double(weights[base + 3 + column])
                        let g2 = Double(weights[base + 6 + column])
                        let value = SIMD4(g0, (g0 + g1 + g2) / 2, (g0 - g1 + g2) / 2, g2)
                        switch column {
                        case 0: left.0 = value
                        case 1: left.1 = value
                        default: left.2 = value
                        }
                    }
                    // (G g) Gᵀ: 4 × 4.
                    for row in 0 ..< 4 {
                        let a0 = left.0[row], a1 = left.1[row], a2 = left.2[row]
                        transformed[(row * 4) * pairs + pair] = Float(a0)
                        transformed[(row * 4 + 1) * pairs + pair] = Float((a0 + a1 + a2) / 2)
                        transformed[(row * 4 + 2) * pairs + pair] = Float((a0 - a1 + a2) / 2)
                        transformed[(row * 4 + 3) * pairs + pair] = Float(a2)
                    }
                }
            }
        }
        return transformed
    }
}

/// Winograd's output tile: F(2 × 2, 3 × 3) or F(4 × 4, 3 × 3).
///
/// The larger tile does 4× fewer multiplications than a direct 3 × 3 convolution instead of 2.25×,
/// at the price of transformed weights 36/9 the weights' size (16/9 for the smaller tile), larger
/// transform constants (up to 8 and 1/24, so more rounding per output; ResNet-101's descriptors still
/// come within 3 · 10⁻⁸ of PyTorch's), and tiles that waste more on map edges that are not multiples
/// of 4.
public enum WinogradTile: Int, Sendable, CaseIterable {
    case two = 2
    case four = 4

    /// Output rows (and columns) per tile.
    public var outputSize: Int { rawValue }
    /// Input rows (and columns) a tile reads: the output tile plus the kernel's 2.
    public var inputSize: Int { rawValue + 2 }
    /// Transformed positions ξ: one matrix product each.
    public var positions: Int { inputSize * inputSize }
}

/// One Winograd convolution, run band by band of tile rows (so the transformed input and products
/// stay cache-sized), each band: input transform, one product per position ξ, output transform,
/// epilogue.
struct WinogradBands: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let weights: UnsafePointer<Float>   // [ξ][out][in]
    let output: UnsafeMutablePointer<Float>
    let geometry: ConvolutionGeometry
    let epilogue: OutputEpilogue
    let inputChannels: Int, outputChannels: Int
    let tile: WinogradTile
    /// Whether the 4 × 4 tile's transforms take their AVX-512 path (same results, see the C header).
    let vectorizedTransforms: Bool
    let tileColumns: Int                 // tiles per tile row, ceil(outputWidth / tile size)
    let tileRowsPerBand: Int

    /// Floats of one transform thread's row scratch: the padded input rows a tile row reads and
    /// those rows transformed down the columns.
    static func rowScratchCount(tile: WinogradTile, tileColumns: Int) -> Int {
        2 * tile.inputSize * (tile.outputSize * tileColumns + 2)
    }

    /// Floats of scratch one band needs: transformed input, products, and the row scratch of each
    /// of the `transformThreads` threads that share the band's input and output transforms.
    static func scratchCount(inputChannels: Int, outputChannels: Int, tile: WinogradTile, tileColumns: Int,
                             tileRowsPerBand: Int, transformThreads: Int) -> Int {
        let tiles = tileColumns * tileRowsPerBand
        return tile.positions * (inputChannels + outputChannels) * tiles
            + rowScratchCount(tile: tile, tileColumns: tileColumns) * transformThreads
    }

    func run(band: Int, scratch: UnsafeMutablePointer<Float>, transformThreads: Int = 1) {
        let g = geometry
        let size = tile.outputSize
        let positions = tile.positions
        let tileRowCount = (g.outputHeight + size - 1) / size
        let firstTileRow = band * tileRowsPerBand
        let bandRows = min(tileRowsPerBand, tileRowCount - firstTileRow)
        guard bandRows > 0 else { return }
        let tiles = bandRows * tileColumns
        let transformedInput = scratch
        let products = scratch + positions * inputChannels * tiles
        let rows = products + positions * outputChannels * tiles
        let rowScratch = Self.rowScratchCount(tile: tile, tileColumns: tileColumns)
        let shared = SharedPointers(input: UnsafePointer(products), output: transformedInput)
        let rowsBase = SharedPointers(input: UnsafePointer(rows), output: rows)
        let channelCount = inputChannels
        let outputCount = outputChannels
        if transformThreads > 1 {
            DispatchQueue.concurrentPerform(iterations: transformThreads) { worker in
                self.transformInput(channels: channelCount * worker / transformThreads ..< channelCount * (worker + 1) / transformThreads,
                                    firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles, into: shared.output,
                                    rows: rowsBase.output + worker * rowScratch)
            }
        } else {
            transformInput(channels: 0 ..< inputChannels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                           into: transformedInput, rows: rows)
        }
        for position in 0 ..< positions {
            BLAS.gemm(transposeA: false, transposeB: false, m: outputChannels, n: tiles, k: inputChannels, alpha: 1,
                      a: weights + position * outputChannels * inputChannels, lda: inputChannels,
                      b: transformedInput + position * inputChannels * tiles, ldb: tiles, beta: 0,
                      c: products + position * outputChannels * tiles, ldc: tiles)
        }
        if transformThreads > 1 {
            DispatchQueue.concurrentPerform(iterations: transformThreads) { worker in
                self.transformOutput(channels: outputCount * worker / transformThreads ..< outputCount * (worker + 1) / transformThreads,
                                     firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles, from: shared.input)
            }
        } else {
            transformOutput(channels: 0 ..< outputChannels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                            from: products)
        }
        let firstRow = size * firstTileRow
        let endRow = min(size * (firstTileRow + bandRows), g.outputHeight)
        epilogue.apply(output: output, channels: 0 ..< outputChannels,
                       columns: firstRow * g.outputWidth ..< endRow * g.outputWidth)
    }

    private func transformInput(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                into transformed: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>) {
        switch tile {
        case .two: transformInputTwo(channels: channels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                                     into: transformed, rows: rows)
        case .four: transformInputFour(channels: channels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                                       into: transformed, rows: rows)
        }
    }

    private func transformOutput(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                 from products: UnsafePointer<Float>) {
        switch tile {
        case .two: transformOutputTwo(channels: channels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                                      from: products)
        case .four: transformOutputFour(channels: channels, firstTileRow: firstTileRow, bandRows: bandRows, tiles: tiles,
                                        from: products)
        }
    }

    /// Copies the `inputSize` input rows of one tile row into `padded` (`width` columns from
    /// −padLeft), zero outside the image.
    @inline(__always)
    private func copyPaddedRows(plane: UnsafePointer<Float>, top: Int, count: Int, width: Int,
                                into padded: UnsafeMutablePointer<Float>) {
        let g = geometry
        let firstColumn = -g.padLeft
        let copyStart = max(0, -firstColumn)     // first padded column holding input
        let copyCount = max(0, min(g.inputWidth - max(firstColumn, 0), width - copyStart))
        for r in 0 ..< count {
            let destination = padded + r * width
            let y = top + r
            if y < 0 || y >= g.inputHeight || copyCount == 0 {
                destination.update(repeating: 0, count: width)
                continue
            }
            if copyStart > 0 { destination.update(repeating: 0, count: copyStart) }
            (destination + copyStart).update(from: plane + y * g.inputWidth + max(firstColumn, 0), count: copyCount)
            let tail = width - copyStart - copyCount
            if tail > 0 { (destination + copyStart + copyCount).update(repeating: 0, count: tail) }
        }
    }

    /// F(4 × 4, 3 × 3)'s V[ξ][c][t] = (Bᵀ d B)[ξ]: the padded rows here, the transform in C (see
    /// `landmark_winograd_f4_input_row`).
    private func transformInputFour(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                    into transformed: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>) {
        let g = geometry
        let width = 4 * tileColumns + 2
        let padded = rows
        let vertical = rows + 6 * width
        let inputPlane = g.inputHeight * g.inputWidth
        let positionStride = inputChannels * tiles
        for channel in channels {
            let plane = input + channel * inputPlane
            for bandRow in 0 ..< bandRows {
                copyPaddedRows(plane: plane, top: 4 * (firstTileRow + bandRow) - g.padTop, count: 6, width: width,
                               into: padded)
                landmark_winograd_f4_input_row(padded, width, vertical, tileColumns,
                                               transformed + channel * tiles + bandRow * tileColumns, positionStride,
                                               vectorizedTransforms ? 1 : 0)
            }
        }
    }

    /// F(4 × 4, 3 × 3)'s Y = Aᵀ M A, tile row by tile row in C (see `landmark_winograd_f4_output_row`).
    private func transformOutputFour(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                     from products: UnsafePointer<Float>) {
        let g = geometry
        let outputPlane = g.outputHeight * g.outputWidth
        for channel in channels {
            for bandRow in 0 ..< bandRows {
                let firstRow = 4 * (firstTileRow + bandRow)
                landmark_winograd_f4_output_row(products + channel * tiles + bandRow * tileColumns, outputChannels * tiles,
                                                tileColumns, output + channel * outputPlane + firstRow * g.outputWidth,
                                                g.outputWidth, min(4, g.outputHeight - firstRow),
                                                vectorizedTransforms ? 1 : 0)
            }
        }
    }

    /// F(2 × 2, 3 × 3)'s V[ξ][c][t] = (Bᵀ d B)[ξ] for each channel c and tile t of the band.
    private func transformInputTwo(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                into transformed: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>) {
        let g = geometry
        let width = 2 * tileColumns + 2          // padded row width the tiles read
        let padded = rows                        // 4 rows of input, zero outside the image
        let vertical = rows + 4 * width          // Bᵀ applied down the columns
        let inputPlane = g.inputHeight * g.inputWidth
        for channel in channels {
            let plane = input + channel * inputPlane
            for bandRow in 0 ..< bandRows {
                copyPaddedRows(plane: plane, top: 2 * (firstTileRow + bandRow) - g.padTop, count: 4, width: width,
                               into: padded)
                let (d0, d1, d2, d3) = (padded, padded + width, padded + 2 * width, padded + 3 * width)
                let (t0, t1, t2, t3) = (vertical, vertical + width, vertical + 2 * width, vertical + 3 * width)
                // Bᵀ down the columns over the whole row strip, then Bᵀ along each tile's columns.
                for x in 0 ..< width {
                    t0[x] = d0[x] - d2[x]
                    t1[x] = d1[x] + d2[x]
                    t2[x] = d2[x] - d1[x]
                    t3[x] = d1[x] - d3[x]
                }
                let tileOffset = bandRow * tileColumns
                for k in 0 ..< 4 {
                    let t = UnsafePointer(vertical + k * width)
                    let v0 = transformed + ((4 * k) * inputChannels + channel) * tiles + tileOffset
                    let v1 = v0 + inputChannels * tiles
                    let v2 = v1 + inputChannels * tiles
                    let v3 = v2 + inputChannels * tiles
                    for j in 0 ..< tileColumns {
                        let p = t + 2 * j
                        v0[j] = p[0] - p[2]
                        v1[j] = p[1] + p[2]
                        v2[j] = p[2] - p[1]
                        v3[j] = p[1] - p[3]
                    }
                }
            }
        }
    }

    /// F(2 × 2, 3 × 3)'s Y = Aᵀ M A for every output channel and tile, written into the output planes.
    private func transformOutputTwo(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int, from products: UnsafePointer<Float>) {
        let g = geometry
        let outputPlane = g.outputHeight * g.outputWidth
        let positionStride = outputChannels * tiles
        let evenWidth = g.outputWidth / 2        // tiles whose both columns exist
        for channel in channels {
            let out = output + channel * outputPlane
            for bandRow in 0 ..< bandRows {
                let base = products + channel * tiles + bandRow * tileColumns
                let row0 = out + 2 * (firstTileRow + bandRow) * g.outputWidth
                let hasSecondRow = 2 * (firstTileRow + bandRow) + 1 < g.outputHeight
                let row1 = hasSecondRow ? row0 + g.outputWidth : row0
                for j in 0 ..< tileColumns {
                    var a = (Float(0), Float(0), Float(0), Float(0))
                    var b = (Float(0), Float(0), Float(0), Float(0))
                    @inline(__always) func m(_ position: Int) -> Float { base[position * positionStride + j] }
                    a.0 = m(0) + m(1) + m(2); b.0 = m(1) - m(2) - m(3)
                    a.1 = m(4) + m(5) + m(6); b.1 = m(5) - m(6) - m(7)
                    a.2 = m(8) + m(9) + m(10); b.2 = m(9) - m(10) - m(11)
                    a.3 = m(12) + m(13) + m(14); b.3 = m(13) - m(14) - m(15)
                    let y00 = a.0 + a.1 + a.2, y01 = b.0 + b.1 + b.2
                    let y10 = a.1 - a.2 - a.3, y11 = b.1 - b.2 - b.3
                    if j < evenWidth {
                        row0[2 * j] = y00
                        row0[2 * j + 1] = y01
                        if hasSecondRow {
                            row1[2 * j] = y10
                            row1[2 * j + 1] = y11
                        }
                    } else {
                        row0[2 * j] = y00
                        if hasSecondRow { row1[2 * j] = y10 }
                    }
                }
            }
        }
    }
}
