import Foundation

/// How the learning rate changes from epoch to epoch; a pure function of the epoch, so that a resumed
/// run needs no scheduler state to continue exactly where it stopped.
public enum LearningRateSchedule: Sendable, Equatable {
    /// The base rate throughout.
    case constant
    /// `base · gammaᵉᵖᵒᶜʰ`: torch's `ExponentialLR` after `epoch` steps. cirtorch uses `gamma = exp(−0.01)`
    /// (``cirtorchGamma``) and steps its scheduler at the *start* of each epoch, so its epoch `e` (from 0)
    /// trains at `learningRate(base:epoch: e + 1)`.
    case exponential(gamma: Double)
    /// Linear warm-up over the first `warmupEpochs` epochs (`base · (epoch + 1) / warmupEpochs`), then cosine
    /// annealing from `base` to 0 over the remaining `totalEpochs − warmupEpochs` epochs
    /// (`base · (1 + cos(π · (epoch − warmupEpochs) / (totalEpochs − warmupEpochs))) / 2`) — torch's
    /// `SequentialLR([LinearLR(1 / warmupEpochs, 1, warmupEpochs − 1), CosineAnnealingLR(total − warmup)],
    /// milestones: [warmupEpochs])`. Warm-up keeps the first large updates from wrecking pretrained weights
    /// while the new head (whitening, ArcFace weights) is still random.
    case warmupCosine(warmupEpochs: Int, totalEpochs: Int)

    /// cirtorch's decay per epoch, exp(−0.01): the rate halves in about 69 epochs.
    public static let cirtorchGamma = exp(-0.01)

    /// The rate for `epoch` (counted from 0), computed in Double from the decimal `base` and rounded once.
    public func learningRate(base: Float, epoch: Int) -> Float {
        Float(learningRateInDouble(base: base.intendedDouble, epoch: epoch))
    }

    /// ``learningRate(base:epoch:)`` before rounding to Float.
    public func learningRateInDouble(base: Double, epoch: Int) -> Double {
        switch self {
        case .constant:
            return base
        case .exponential(let gamma):
            return base * pow(gamma, Double(epoch))
        case .warmupCosine(let warmupEpochs, let totalEpochs):
            if epoch < warmupEpochs {
                return base * Double(epoch + 1) / Double(warmupEpochs)
            }
            let annealing = max(totalEpochs - warmupEpochs, 1)
            let progress = Double(min(epoch - warmupEpochs, annealing)) / Double(annealing)
            return base * (1 + cos(Double.pi * progress)) / 2
        }
    }
}
