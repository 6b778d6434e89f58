/// torch 1.13's `F.interpolate(x, scale_factor: s, mode: "bilinear", align_corners: false)`, the
/// multi-scale resize of cirtorch: the output has floor(in · s) rows and columns, and because the
/// scale factor is given (and `recompute_scale_factor` unset), torch maps output to input
/// coordinates with 1 / s, not in / out — the two differ whenever in · s is not an integer, which
/// moves every sample. Source coordinate: max((1/s)(i + ½) − ½, 0), in single precision as torch.
public func bilinearResize(_ map: FeatureMap, scaleFactor: Double) -> FeatureMap {
    bilinearResize(map, scaleFactor: scaleFactor, workspace: nil)
}

/// ``bilinearResize(_:scaleFactor:)`` with the output storage taken from `workspace`.
public func bilinearResize(_ map: FeatureMap, scaleFactor: Double, workspace: TensorWorkspace?) -> FeatureMap {
    precondition(scaleFactor > 0, "scale factor must be positive")
    let outputHeight = Int(Double(map.height) * scaleFactor)
    let outputWidth = Int(Double(map.width) * scaleFactor)
    precondition(outputHeight > 0 && outputWidth > 0, "resizing \(map.height)×\(map.width) by \(scaleFactor) leaves nothing")
    let rows = LinearTaps(input: map.height, output: outputHeight, scaleFactor: scaleFactor)
    let columns = LinearTaps(input: map.width, output: outputWidth, scaleFactor: scaleFactor)
    var output = workspace?.makeFeatureMap(channels: map.channels, height: outputHeight, width: outputWidth)
        ?? FeatureMap(channels: map.channels, height: outputHeight, width: outputWidth)
    let inputPlane = map.planeSize
    let outputPlane = outputHeight * outputWidth
    let inputWidth = map.width
    map.storage.withUnsafeBufferPointer { input in
        output.storage.withUnsafeMutableBufferPointer { out in
            for channel in 0 ..< map.channels {
                for y in 0 ..< outputHeight {
                    let row0 = channel * inputPlane + rows.index[y] * inputWidth
                    let row1 = row0 + rows.step[y] * inputWidth
                    let top = rows.weight0[y], bottom = rows.weight1[y]
                    let destination = channel * outputPlane + y * outputWidth
                    for x in 0 ..< outputWidth {
                        let left = columns.index[x], right = left + columns.step[x]
                        let w0 = columns.weight0[x], w1 = columns.weight1[x]
                        out[destination + x] = top * (w0 * input[row0 + left] + w1 * input[row0 + right])
                            + bottom * (w0 * input[row1 + left] + w1 * input[row1 + right])
                    }
                }
            }
        }
    }
    return output
}

/// Per output index along one axis: the first input index, the step to the second (0 at the
/// border) and the two weights.
struct LinearTaps {
    var index: [Int], step: [Int], weight0: [Float], weight1: [Float]

    init(input: Int, output: Int, scaleFactor: Double) {
        index = [Int](repeating: 0, count: output)
        step = [Int](repeating: 0, count: output)
        weight0 = [Float](repeating: 1, count: output)
        weight1 = [Float](repeating: 0, count: output)
        // torch copies the input unchanged when the size does not change.
        guard input != output else {
            for i in 0 ..< output { index[i] = i }
            return
        }
        let scale = Float(1.0 / scaleFactor)
        for i in 0 ..< output {
            let source = max(scale * (Float(i) + 0.5) - 0.5, 0)
            let first = Int(source)
            index[i] = first
            step[i] = first < input - 1 ? 1 : 0
            weight1[i] = source - Float(first)
            weight0[i] = 1 - weight1[i]
        }
    }
}
