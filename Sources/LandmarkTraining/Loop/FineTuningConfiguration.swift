import Foundation

/// Everything that decides a fine-tuning run (METHODS.md §7). Stored in the run directory, so that a
/// resumed run can refuse to continue under different settings.
public struct FineTuningConfiguration: Sendable, Codable, Equatable {
    public enum Loss: String, Sendable, Codable, CaseIterable {
        case contrastive, triplet, arcface, cosface

        /// cirtorch's contrastive margin for GeM networks (0.7 in its training script's examples; its
        /// default of 0.7 for the ResNet-101 GeM model), the triplet margin of its triplet option, and the
        /// cosine-softmax margin of METHODS.md §7.
        public var defaultMargin: Float {
            switch self {
            case .contrastive: 0.7
            case .triplet: 0.1
            case .arcface, .cosface: 0.3
            }
        }

        public var usesTuples: Bool { self == .contrastive || self == .triplet }
    }

    public enum OptimizerKind: String, Sendable, Codable, CaseIterable { case adam, sgd }

    /// `lite0`, `lite2` or a checkpoint path (a previous run's `final.pth` continues from it).
    public var model: String = "lite2"
    public var loss: Loss = .contrastive
    /// `nil` takes the loss's default.
    public var margin: Float?
    /// Cosine-softmax scale s.
    public var scale: Float = 30
    public var epochs: Int = 10
    /// Longer image side while training (cirtorch trains at 362 px).
    public var imageSize: Int = 362
    /// Longer image side of validation descriptors (the size `landmark index` describes at by default).
    public var validationSize: Int = 512
    /// Trunk units trained from the top (0: only pooling and whitening learn; the trunk's output is
    /// computed once per image and cached).
    public var trainableBlocks: Int = 0
    /// Normalise trainable trunk units by each image's own statistics and move the running ones; off by
    /// default, as cirtorch fine-tunes with BatchNorm frozen.
    public var batchNormTraining: Bool = false
    /// GeM's initial p (learned, at ten times the learning rate as in cirtorch).
    public var gemP: Float = 3
    /// Learn a whitening layer (initialised to the identity, so training starts from the plain descriptor).
    public var whitening: Bool = true
    public var optimizer: OptimizerKind = .adam
    public var learningRate: Float = 1e-4
    public var weightDecay: Float = 1e-6
    /// Learning rate decay per epoch (cirtorch: exp(−0.01)).
    public var learningRateDecay: Double = exp(-0.01)
    /// When set, training images are cropped, sheared and colour-jittered afresh every epoch (their frozen
    /// features are then computed per epoch instead of once); mining and validation see the plain images.
    public var augmentation: ImageAugmentation? = nil
    /// When set, linear warm-up over this many epochs then cosine annealing to 0 at `epochs`, instead of
    /// the exponential decay (the 2019 winners' schedule for ArcFace/CosFace heads).
    public var warmupCosineEpochs: Int? = nil

    /// The schedule these settings describe.
    public var schedule: LearningRateSchedule {
        if let warmupCosineEpochs { return .warmupCosine(warmupEpochs: warmupCosineEpochs, totalEpochs: epochs) }
        return .exponential(gamma: learningRateDecay)
    }
    /// Tuples whose gradients are summed before each optimiser step (cirtorch's batch size, 5).
    public var tuplesPerBatch: Int = 5
    public var mining: TupleMining = TupleMining()
    public var batches: ClassBalancedBatches = ClassBalancedBatches()
    /// Seeds the epoch's sampling; one seed gives one run, resumed or not.
    public var seed: UInt64 = 0

    public init() {}

    public var effectiveMargin: Float { margin ?? loss.defaultMargin }
}

/// One finished epoch, as the run directory records it.
public struct EpochRecord: Sendable, Codable, Equatable {
    /// 0 is the starting model (no training yet).
    public var epoch: Int
    /// Mean loss per tuple (or per image for cosine-softmax); `nil` for epoch 0.
    public var loss: Double?
    public var learningRate: Double?
    /// Validation mAP, when a validation benchmark was given.
    public var validationMeanAveragePrecision: Double?
    /// mAP of the training set's own labelled images as queries (how well it fits what it learns from).
    public var trainingMeanAveragePrecision: Double?
    public var seconds: Double

    public init(epoch: Int, loss: Double?, learningRate: Double?, validationMeanAveragePrecision: Double?,
                trainingMeanAveragePrecision: Double?, seconds: Double) {
        self.epoch = epoch
        self.loss = loss
        self.learningRate = learningRate
        self.validationMeanAveragePrecision = validationMeanAveragePrecision
        self.trainingMeanAveragePrecision = trainingMeanAveragePrecision
        self.seconds = seconds
    }
}
