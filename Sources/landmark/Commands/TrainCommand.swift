import ArgumentParser
import Foundation
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkTraining

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Fine-tune the descriptor network on your own photos (METHODS.md §7).",
        discussion: """
        TRAIN is a folder benchmark (a folder with ground_truth.tsv, header image<TAB>landmark), any \
        image<TAB>landmark TSV (paths relative to it), a tuple directory written by `landmark mine`, or GLDv2's \
        train.csv (or the GLDv2 root holding it; images train/a/b/c/<id>.jpg, ids not downloaded are left out). \
        Every epoch re-mines hard negatives (the nearest images of other landmarks by the current network, \
        at most one per landmark) for the contrastive and triplet losses; arcface and cosface train on \
        class-balanced batches instead.

        By default only the head learns — GeM's p and a whitening layer that starts as the identity — on \
        the trunk's output, computed once per image: that makes CPU training take minutes. \
        --trainable-blocks K also trains the top K trunk units.

        RUN_DIR gets progress.json (settings and one record per epoch), a checkpoint per epoch (run the \
        same command again to resume a killed run; the result is identical), curves.png (loss in red, \
        validation mAP in blue, training mAP in green) and final.pth, which \
        `landmark index|evaluate --model RUN_DIR/final.pth` and PyTorch/cirtorch load as it is.
        """)

    @Argument(help: "Training data: a folder benchmark, an image<TAB>landmark TSV, a tuple directory from `landmark mine`, or GLDv2's train.csv.")
    var train: String

    @Option(name: .customLong("out"), help: "Run directory (new or empty, or a run to resume).")
    var output: String

    @Option(help: "Initial network: lite2, lite0 or a checkpoint path.")
    var model: String = FineTuningConfiguration().model

    @Option(help: "contrastive, triplet, arcface or cosface.")
    var loss: String = FineTuningConfiguration().loss.rawValue

    @Option(help: "Epochs to train.")
    var epochs: Int = FineTuningConfiguration().epochs

    @Option(help: "Longer image side while training.")
    var size: Int = FineTuningConfiguration().imageSize

    @Option(help: "A folder benchmark to measure mAP on after every epoch.")
    var validation: String?

    @Option(help: "Longer image side of validation descriptors.")
    var validationSize: Int = FineTuningConfiguration().validationSize

    @Option(help: "Top trunk units to train besides the head (0: head only, trunk output cached): EfficientNet-Lite units above the stem, or ResNet bottlenecks.")
    var trainableBlocks: Int = FineTuningConfiguration().trainableBlocks

    @Option(parsing: .unconditional, help: ArgumentHelp("Freeze the stem and the first B of those units and train the rest: --trainable-blocks (their number − B).",
                               valueName: "B"))
    var freezeBelow: Int?

    @Option(parsing: .unconditional, help: "Loss margin (default: 0.7 contrastive, 0.1 triplet, 0.3 arcface/cosface).")
    var margin: Float?

    @Option(help: "Cosine-softmax scale s (arcface, cosface).")
    var scale: Float = FineTuningConfiguration().scale

    @Option(help: "adam or sgd.")
    var optimizer: String = FineTuningConfiguration().optimizer.rawValue

    @Option(help: "Learning rate (GeM's p learns at ten times it).")
    var learningRate: Float = FineTuningConfiguration().learningRate

    @Option(help: "Learning-rate schedule: exponential (cirtorch's decay by exp(-0.01) per epoch) or cosine (linear warm-up over --warmup-epochs, then cosine annealing to 0 at --epochs).")
    var schedule: String = "exponential"

    @Option(parsing: .unconditional, help: "Warm-up epochs of --schedule cosine.")
    var warmupEpochs: Int = 1

    @Flag(help: "Augment training images every epoch (seeded): a crop keeping the aspect ratio, a small shear, colour jitter. The frozen trunk then runs on every training image each epoch instead of once.")
    var augment = false

    @Option(help: "With --augment: smallest side fraction the crop keeps.")
    var cropScale: Double = ImageAugmentation().minimumCropScale

    @Option(help: "With --augment: largest horizontal shear.")
    var shear: Double = ImageAugmentation().maximumShear

    @Option(help: "With --augment: brightness, contrast and saturation vary by up to this fraction.")
    var colourJitter: Double = ImageAugmentation().colourJitter

    @Option(help: "Weight decay.")
    var weightDecay: Float = FineTuningConfiguration().weightDecay

    @Option(help: "Tuples per epoch (contrastive, triplet).")
    var queriesPerEpoch: Int = FineTuningConfiguration().mining.queriesPerEpoch

    @Option(help: "Images the hard negatives are mined from each epoch.")
    var poolSize: Int = FineTuningConfiguration().mining.poolSize

    @Option(help: "Negatives per tuple.")
    var negatives: Int = FineTuningConfiguration().mining.negativesPerTuple

    @Option(help: "Tuples per optimiser step.")
    var batch: Int = FineTuningConfiguration().tuplesPerBatch

    @Flag(help: "No whitening layer (the descriptor is the pooled trunk output).")
    var noWhitening = false

    @Option(help: "Random seed (sampling of tuples and batches).")
    var seed: UInt64 = 0

    @Flag(help: "Print the epoch records as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard FineTuningConfiguration.Loss(rawValue: loss.lowercased()) != nil else {
            throw ValidationError("--loss must be one of \(FineTuningConfiguration.Loss.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard FineTuningConfiguration.OptimizerKind(rawValue: optimizer.lowercased()) != nil else {
            throw ValidationError("--optimizer must be adam or sgd")
        }
        guard epochs >= 0 else { throw ValidationError("--epochs must be at least 0") }
        guard size >= 32, validationSize >= 32 else { throw ValidationError("--size and --validation-size must be at least 32") }
        guard trainableBlocks >= 0 else { throw ValidationError("--trainable-blocks must be at least 0") }
        if let freezeBelow {
            guard freezeBelow >= 0 else { throw ValidationError("--freeze-below must be at least 0") }
            guard trainableBlocks == 0 else { throw ValidationError("give --freeze-below or --trainable-blocks, not both") }
        }
        guard ["exponential", "cosine"].contains(schedule.lowercased()) else {
            throw ValidationError("--schedule must be exponential or cosine")
        }
        guard warmupEpochs >= 1 else { throw ValidationError("--warmup-epochs must be at least 1") }
        guard cropScale > 0, cropScale <= 1, shear >= 0, shear < 1, colourJitter >= 0, colourJitter <= 1 else {
            throw ValidationError("--crop-scale must be in (0, 1], --shear in [0, 1), --colour-jitter in [0, 1]")
        }
        guard learningRate > 0, learningRate.isFinite, weightDecay >= 0 else {
            throw ValidationError("--learning-rate must be positive and --weight-decay non-negative")
        }
        guard queriesPerEpoch > 0, poolSize > 0, negatives >= 0, batch > 0 else {
            throw ValidationError("--queries-per-epoch, --pool-size and --batch must be positive, --negatives at least 0")
        }
        if let margin { guard margin >= 0, margin.isFinite else { throw ValidationError("--margin must be non-negative") } }
        guard scale > 0 else { throw ValidationError("--scale must be positive") }
    }

    func run() throws {
        var configuration = FineTuningConfiguration()
        configuration.model = model
        configuration.loss = FineTuningConfiguration.Loss(rawValue: loss.lowercased()) ?? .contrastive
        configuration.margin = margin
        configuration.scale = scale
        configuration.epochs = epochs
        configuration.imageSize = size
        configuration.validationSize = validationSize
        configuration.trainableBlocks = trainableBlocks
        configuration.whitening = !noWhitening
        configuration.optimizer = FineTuningConfiguration.OptimizerKind(rawValue: optimizer.lowercased()) ?? .adam
        configuration.learningRate = learningRate
        configuration.warmupCosineEpochs = schedule.lowercased() == "cosine" ? warmupEpochs : nil
        configuration.augmentation = augment
            ? ImageAugmentation(minimumCropScale: cropScale, maximumShear: shear, colourJitter: colourJitter) : nil
        configuration.weightDecay = weightDecay
        configuration.tuplesPerBatch = batch
        configuration.mining = TupleMining(queriesPerEpoch: queriesPerEpoch, poolSize: poolSize, negativesPerTuple: negatives)
        configuration.seed = seed
        if model.contains("/") || model.hasSuffix(".pth") || model.hasSuffix(".safetensors") {
            configuration.model = URL(fileURLWithPath: model).standardizedFileURL.path
        }

        let records: [EpochRecord]
        do {
            let trainingSet = try TrainingSet.load(URL(fileURLWithPath: train))
            var benchmark: FolderBenchmark?
            if let validation {
                do {
                    benchmark = try FolderBenchmark.load(URL(fileURLWithPath: validation))
                } catch {
                    Console.error("error: --validation: \(error)")
                    throw LandmarkExitCode.failure
                }
            }
            if let freezeBelow {
                var probe = configuration
                probe.trainableBlocks = 0
                let units = try FineTunedNetwork.load(probe).trainableUnitCount
                guard freezeBelow < units else {
                    throw ValidationError("--freeze-below \(freezeBelow): the trunk has \(units) units above its stem; freeze fewer")
                }
                configuration.trainableBlocks = units - freezeBelow
            }
            let network = try FineTunedNetwork.load(configuration)
            if !quiet {
                Console.error("training on \(trainingSet.count) images of \(trainingSet.classNames.count) landmarks "
                    + "(\(trainingSet.candidatePairs.count) matching pairs), \(network.parameters.scalarCount) trainable values")
            }
            let run = FineTuningRun(configuration: configuration, trainingSet: trainingSet, validation: benchmark,
                                    directory: URL(fileURLWithPath: output))
            let bar = TrainingProgressPrinter(enabled: !quiet)
            records = try run.run(network: network, progress: bar.handler)
        } catch let error as TrainingDataError {
            Console.error("error: \(error)")
            throw LandmarkExitCode.failure
        }
        if json {
            print(JSONOutput.line(records))
            return
        }
        print("epoch  loss      lr         val mAP  train mAP  seconds")
        for record in records {
            print(String(format: "%5d  %@  %@  %@  %@  %7.1f", record.epoch,
                         record.loss.map { String(format: "%8.5f", $0) } ?? "       -",
                         record.learningRate.map { String(format: "%9.3g", $0) } ?? "        -",
                         record.validationMeanAveragePrecision.map { String(format: "%7.4f", $0) } ?? "      -",
                         record.trainingMeanAveragePrecision.map { String(format: "%9.4f", $0) } ?? "        -",
                         record.seconds))
        }
        print("wrote \(output)/\(FineTuningRun.finalCheckpointName) and \(output)/curves.png")
    }
}

/// One line per phase change and, on a terminal, a live line with the epoch's loss and learning rate.
final class TrainingProgressPrinter: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var lastPhase = ""

    init(enabled: Bool) { self.enabled = enabled }

    var handler: @Sendable (FineTuningProgress) -> Void { { [self] progress in update(progress) } }

    func update(_ progress: FineTuningProgress) {
        guard enabled else { return }
        lock.lock()
        defer { lock.unlock() }
        let phase = "\(progress.phase.rawValue) \(progress.epoch)"
        let now = Date()
        let interactive = Console.standardErrorIsTerminal
        if phase != lastPhase {
            if interactive, !lastPhase.isEmpty { FileHandle.standardError.write(Data("\n".utf8)) }
            lastPhase = phase
            if !interactive {
                Console.error("epoch \(progress.epoch): \(progress.phase.rawValue) (\(progress.total))")
            }
        }
        guard interactive, now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        var line = String(format: "\repoch %d %@ %d/%d", progress.epoch, progress.phase.rawValue, progress.completed, progress.total)
        if let loss = progress.loss { line += String(format: " loss %.5f", loss) }
        if let rate = progress.learningRate { line += String(format: " lr %.3g", rate) }
        FileHandle.standardError.write(Data((line + "   ").utf8))
    }
}
