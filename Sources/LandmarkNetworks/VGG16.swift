import LandmarkCheckpoint
import LandmarkTensor

/// VGG-16's convolutional part up to its last ReLU (conv5_3): cirtorch drops the final max-pool
/// (`features.children()[:-1]`) so that pooling sees the 1/16-resolution map.
///
/// torchvision and cirtorch name the layers alike (`features.N.weight` / `.bias` at the indices of
/// the Sequential, ReLUs and pools included), so one reader serves both.
public struct VGG16: ConvolutionalBackbone {
    public var architecture: String { "vgg16" }
    public var outputChannels: Int { 512 }

    enum Layer: Sendable {
        case convolution(Convolution2D)
        case maxPool
    }

    let layers: [Layer]
    let pool = MaxPooling2D(kernel: 2, stride: 2)

    /// Output channels per convolution, 0 for a 2 × 2 max-pool; torchvision's configuration "D"
    /// without its last pool.
    static let configuration = [64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512]

    init(reader: WeightReader) throws(CheckpointError) {
        var layers: [Layer] = []
        var index = 0  // position in torch's Sequential: each convolution is followed by its ReLU
        var inputs = 3
        for outputs in Self.configuration {
            if outputs == 0 {
                layers.append(.maxPool)
                index += 1
            } else {
                layers.append(.convolution(try reader.convolution("features.\(index)", outputChannels: outputs,
                                                                  inputChannels: inputs, kernel: 3, padding: .symmetric(1),
                                                                  hasBias: true)))
                inputs = outputs
                index += 2
            }
        }
        self.layers = layers
    }

    public func features(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap {
        var current = input
        var owned = false  // never recycle the caller's input
        for layer in layers {
            let next: FeatureMap
            switch layer {
            case .convolution(let convolution): next = convolution(current, activation: .relu, workspace: workspace)
            case .maxPool: next = pool(current, workspace: workspace)
            }
            if owned { workspace.recycle(current) }
            current = next
            owned = true
        }
        return current
    }
}
