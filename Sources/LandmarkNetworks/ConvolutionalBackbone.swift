import LandmarkTensor

/// The convolutional part of an ImageNet network: an image in, its last activation map out.
///
/// Global descriptors (MAC, SPoC, GeM, R-MAC) pool this map; classifiers average it and apply a
/// fully connected layer. Backbones are immutable after loading (every BatchNorm already folded into
/// its convolution), so one instance serves any number of threads, each with its own workspace.
public protocol ConvolutionalBackbone: Sendable {
    /// The architecture's name as cirtorch's metadata spells it: "resnet101", "vgg16",
    /// "efficientnet-lite2", …
    var architecture: String { get }
    /// Channels of the map ``features(_:workspace:)`` returns (the descriptor dimension before whitening).
    var outputChannels: Int { get }
    /// The last convolutional feature map, after its ReLU / ReLU6, for one ImageNet-normalised RGB
    /// input (3 × H × W). The input is not modified or recycled; the result's storage is the caller's
    /// (hand it back with `workspace.recycle` when done to reuse it for the next image).
    func features(_ input: FeatureMap, workspace: TensorWorkspace) -> FeatureMap
}

/// A backbone with its ImageNet head: global average pooling and a fully connected layer to logits.
///
/// Only used to check a loaded network against the reference by its predictions; retrieval uses
/// the backbone alone.
public struct ImageNetClassifier: Sendable {
    public let backbone: any ConvolutionalBackbone
    /// `backbone.outputChannels` → number of classes (1000 for ImageNet).
    public let classifier: Linear

    public init(backbone: any ConvolutionalBackbone, classifier: Linear) {
        precondition(classifier.inputCount == backbone.outputChannels,
                     "classifier takes \(classifier.inputCount) inputs, the backbone gives \(backbone.outputChannels)")
        self.backbone = backbone
        self.classifier = classifier
    }

    /// Class scores before softmax for one ImageNet-normalised RGB input.
    public func logits(_ input: FeatureMap, workspace: TensorWorkspace) -> [Float] {
        let features = backbone.features(input, workspace: workspace)
        let pooled = globalAveragePool(features)
        workspace.recycle(features)
        return classifier(pooled)
    }
}

/// What a cirtorch retrieval checkpoint says about turning the feature map into a descriptor.
public struct RetrievalHead: Sendable {
    /// cirtorch's pooling name: "gem", "mac", "spoc", "rmac", …
    public var pooling: String
    /// The learned GeM exponent (`pool.p`), when the checkpoint has one.
    public var gemP: Float?
    /// Whether the pooling is applied per region (cirtorch's `regional`, `Rpool`).
    public var regional: Bool
    /// The learned whitening, D → output dimension (`whiten.weight` / `whiten.bias`), when
    /// `meta['whitening']` is set.
    public var whitening: Linear?
    /// Per-channel input normalisation the network was trained with (RGB order).
    public var mean: [Float]
    public var std: [Float]

    public init(pooling: String, gemP: Float?, regional: Bool = false, whitening: Linear?, mean: [Float], std: [Float]) {
        self.pooling = pooling
        self.gemP = gemP
        self.regional = regional
        self.whitening = whitening
        self.mean = mean
        self.std = std
    }

    /// ImageNet's statistics, the default of torchvision and cirtorch.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]
}
