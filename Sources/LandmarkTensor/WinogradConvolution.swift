import Foundation
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
    /// The 16 transformed weight matrices, `[ξ][out][in]`.
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

/// One Winograd convolution, run band by band of tile rows (so the transformed input and products
/// stay cache-sized), each band: input transform, 16 products, output transform, epilogue.
struct WinogradBands: @unchecked Sendable {
    let input: UnsafePointer<Float>
    let weights: UnsafePointer<Float>   // [16][out][in]
    let output: UnsafeMutablePointer<Float>
    let geometry: ConvolutionGeometry
    let epilogue: OutputEpilogue
    let inputChannels: Int, outputChannels: Int
    let tileColumns: Int                 // tiles per tile row, ceil(outputWidth / 2)
    let tileRowsPerBand: Int

    /// Floats of scratch one band needs: transformed input, products, and four padded rows plus
    /// four transformed rows for the input transform.
    /// `transformThreads` threads share the input and output transforms of each band.
    static func scratchCount(inputChannels: Int, outputChannels: Int, tileColumns: Int, tileRowsPerBand: Int,
                             transformThreads: Int) -> Int {
        let tiles = tileColumns * tileRowsPerBand
        return 16 * (inputChannels + outputChannels) * tiles + 8 * (2 * tileColumns + 2) * transformThreads
    }

    func run(band: Int, scratch: UnsafeMutablePointer<Float>, transformThreads: Int = 1) {
        let g = geometry
        let tileRowCount = (g.outputHeight + 1) / 2
        let firstTileRow = band * tileRowsPerBand
        let bandRows = min(tileRowsPerBand, tileRowCount - firstTileRow)
        guard bandRows > 0 else { return }
        let tiles = bandRows * tileColumns
        let transformedInput = scratch
        let products = scratch + 16 * inputChannels * tiles
        let rows = products + 16 * outputChannels * tiles
        let rowScratch = 8 * (2 * tileColumns + 2)
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
        for position in 0 ..< 16 {
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
        let firstRow = 2 * firstTileRow
        let endRow = min(2 * (firstTileRow + bandRows), g.outputHeight)
        epilogue.apply(output: output, channels: 0 ..< outputChannels,
                       columns: firstRow * g.outputWidth ..< endRow * g.outputWidth)
    }

    /// V[ξ][c][t] = (Bᵀ d B)[ξ] for each channel c and tile t of the band.
    private func transformInput(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int,
                                into transformed: UnsafeMutablePointer<Float>, rows: UnsafeMutablePointer<Float>) {
        let g = geometry
        let width = 2 * tileColumns + 2          // padded row width the tiles read
        let padded = rows                        // 4 rows of input, zero outside the image
        let vertical = rows + 4 * width          // Bᵀ applied down the columns
        let inputPlane = g.inputHeight * g.inputWidth
        let firstColumn = -g.padLeft
        let copyStart = max(0, -firstColumn)     // first padded column holding input
        let copyCount = max(0, min(g.inputWidth - max(firstColumn, 0), width - copyStart))
        for channel in channels {
            let plane = input + channel * inputPlane
            for bandRow in 0 ..< bandRows {
                let tileRow = firstTileRow + bandRow
                let top = 2 * tileRow - g.padTop
                for r in 0 ..< 4 {
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

    /// Y = Aᵀ M A for every output channel and tile, written into the output planes.
    private func transformOutput(channels: Range<Int>, firstTileRow: Int, bandRows: Int, tiles: Int, from products: UnsafePointer<Float>) {
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
