import LandmarkCheckpoint

extension ResNet {
    /// Names and shapes of torchvision's ResNet state dict (with its ImageNet classifier `fc`), in
    /// module order, so that a network can be built without any weight file (benchmarks; tests).
    public static func stateDictionaryShapes(depth: Int) -> [(name: String, shape: [Int])]? {
        guard let stages = stageBlocks[depth] else { return nil }
        var shapes: [(String, [Int])] = []
        func batchNorm(_ name: String, _ channels: Int) {
            for field in ["weight", "bias", "running_mean", "running_var"] { shapes.append(("\(name).\(field)", [channels])) }
        }
        shapes.append(("conv1.weight", [64, 3, 7, 7]))
        batchNorm("bn1", 64)
        var inputs = 64
        for (stage, count) in stages.enumerated() {
            let width = 64 << stage, outputs = width * 4
            for index in 0..<count {
                let name = "layer\(stage + 1).\(index)"
                shapes.append(("\(name).conv1.weight", [width, inputs, 1, 1]))
                batchNorm("\(name).bn1", width)
                shapes.append(("\(name).conv2.weight", [width, width, 3, 3]))
                batchNorm("\(name).bn2", width)
                shapes.append(("\(name).conv3.weight", [outputs, width, 1, 1]))
                batchNorm("\(name).bn3", outputs)
                if index == 0 {
                    shapes.append(("\(name).downsample.0.weight", [outputs, inputs, 1, 1]))
                    batchNorm("\(name).downsample.1", outputs)
                }
                inputs = outputs
            }
        }
        shapes.append(("fc.weight", [1000, inputs]))
        shapes.append(("fc.bias", [1000]))
        return shapes
    }
}

extension SeededParameters {
    /// A checkpoint holding these seeded values for every named shape — an untrained network that
    /// runs exactly like a trained one, for speed and memory measurements.
    public func checkpoint(shapes: [(name: String, shape: [Int])], file: String = "<seeded>") -> Checkpoint {
        var tensors: [String: CheckpointTensor] = [:]
        for (name, shape) in shapes {
            let count = shape.reduce(1, *)
            let values = self.values(for: name, shape: shape) ?? uniform(for: name, count: count)
            tensors[name] = CheckpointTensor(shape: shape, values: values)
        }
        return Checkpoint(tensors: tensors, file: file)
    }
}
