import Foundation
import LandmarkCheckpoint
import LandmarkEvaluation
import LandmarkLinearAlgebra
import LandmarkStorage
import LandmarkTensor

/// How far a training run has come, for progress bars.
public struct FineTuningProgress: Sendable {
    public enum Phase: String, Sendable { case caching, mining, training, validating }
    public var phase: Phase
    public var epoch: Int
    public var completed: Int
    public var total: Int
    /// Mean loss so far in this epoch (training phase).
    public var loss: Double?
    public var learningRate: Double?
}

/// A fine-tuning run (METHODS.md §7) in its run directory: hard-negative tuples re-mined every epoch (or
/// class-balanced batches for the cosine-softmax losses), an optimiser step per batch, validation mAP
/// per epoch, and a durable checkpoint per epoch from which a killed run resumes with identical results.
///
/// The run directory holds `progress.json` (configuration, finished epochs, the current checkpoint),
/// `checkpoint-epoch-N.safetensors` (parameters and optimiser state; the latest two are kept),
/// `final.pth` (the trained network, loadable by `landmark index --model` and by PyTorch/cirtorch),
/// `final.safetensors` and `curves.png`.
public struct FineTuningRun: Sendable {
    public let configuration: FineTuningConfiguration
    public let trainingSet: TrainingSet
    public let validation: FolderBenchmark?
    public let directory: URL

    public static let progressFileName = "progress.json"
    public static let finalCheckpointName = "final.pth"

    public init(configuration: FineTuningConfiguration, trainingSet: TrainingSet, validation: FolderBenchmark?,
                directory: URL) {
        self.configuration = configuration
        self.trainingSet = trainingSet
        self.validation = validation
        self.directory = directory
    }

    /// What the run directory records between epochs.
    struct Progress: Codable {
        var configuration: FineTuningConfiguration
        var trainingImages: [String]
        var history: [EpochRecord]
        /// File name of the latest epoch checkpoint, in the run directory.
        var checkpoint: String?
        var skipped: [String: String]
    }

    /// Trains (or resumes) and writes the final checkpoint; returns one record per epoch, epoch 0 first.
    public func run(network initial: FineTunedNetwork,
                    progress report: (@Sendable (FineTuningProgress) -> Void)? = nil) throws -> [EpochRecord] {
        var network = initial
        let progressURL = directory.appendingPathComponent(Self.progressFileName)
        var state = try prepareDirectory(progressURL)
        if let last = state.history.last, last.epoch >= configuration.epochs,
           FileManager.default.fileExists(atPath: directory.appendingPathComponent(Self.finalCheckpointName).path) {
            return state.history
        }
        var optimizer = RunOptimizer(configuration.optimizer)
        var cosineHead: CosineMarginHead?
        if !configuration.loss.usesTuples {
            cosineHead = CosineMarginHead(
                classes: trainingSet.classNames.count, dimension: network.head.outputDimension,
                margin: configuration.loss == .arcface ? .arcFace(easyMargin: false) : .cosFace,
                scale: configuration.scale, marginValue: configuration.effectiveMargin, seed: configuration.seed,
                parameters: &network.parameters)
        }
        let baseGroups = ParameterGroup.cirtorch(parameters: network.parameters, learningRate: configuration.learningRate,
                                                 weightDecay: configuration.weightDecay)
        if let name = state.checkpoint {
            try restore(directory.appendingPathComponent(name), network: &network, optimizer: &optimizer)
        }

        // The frozen trunk runs once per image; everything above it reads the cache.
        var skipped = state.skipped
        let trainingFeatures = cache(trainingSet.images.indices.map(trainingSet.url), size: configuration.imageSize,
                                     network: network, report: report)
        for (index, result) in trainingFeatures.enumerated() {
            if case .failure(let error) = result { skipped[trainingSet.images[index]] = error.reason }
        }
        // Unreadable images are left out of training (and named in progress.json), not fatal.
        let usable = trainingSet.filtered { (try? trainingFeatures[$0].get()) != nil }
        let usableFeatures = trainingFeatures.compactMap { try? $0.get() }.map(Optional.some)
        let allTrainingFeatures = trainingFeatures.map { try? $0.get() }
        guard !usable.candidatePairs.isEmpty else {
            throw TrainingDataError(code: .tooFewImages, file: trainingSet.root.path,
                                    reason: "no readable matching pair of images to train on (\(skipped.count) images skipped)")
        }
        var validationFeatures: [FeatureMap?] = []
        if let validation {
            let results = cache(validation.images.indices.map(validation.imageURL), size: configuration.validationSize,
                                network: network, report: report)
            for (index, result) in results.enumerated() {
                if case .failure(let error) = result { skipped["validation/" + validation.images[index]] = error.reason }
            }
            validationFeatures = results.map { try? $0.get() }
        }
        state.skipped = skipped

        if state.history.isEmpty {
            let started = Date()
            let scores = evaluate(network, trainingFeatures: allTrainingFeatures, validationFeatures: validationFeatures, epoch: 0, report: report)
            state.history.append(EpochRecord(epoch: 0, loss: nil, learningRate: nil,
                                             validationMeanAveragePrecision: scores.validation,
                                             trainingMeanAveragePrecision: scores.training,
                                             seconds: Date().timeIntervalSince(started)))
            try save(state, to: progressURL)
        }

        while let last = state.history.last, last.epoch < configuration.epochs {
            let epoch = last.epoch + 1
            let started = Date()
            // cirtorch steps its ExponentialLR at the start of each epoch.
            let schedule = configuration.schedule
            let groups = baseGroups.map { $0.scheduled(schedule, epoch: epoch - 1) }
            var generator = SplitMix64(seed: configuration.seed &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
            let meanLoss: Double
            if configuration.loss.usesTuples {
                meanLoss = try trainTuples(&network, optimizer: &optimizer, groups: groups, set: usable,
                                           features: usableFeatures, generator: &generator, epoch: epoch, report: report)
            } else if var head = cosineHead {
                meanLoss = trainCosine(&network, head: &head, optimizer: &optimizer, groups: groups, set: usable,
                                       features: usableFeatures, generator: &generator, epoch: epoch, report: report)
                cosineHead = head
            } else {
                meanLoss = .nan
            }
            let scores = evaluate(network, trainingFeatures: allTrainingFeatures, validationFeatures: validationFeatures, epoch: epoch, report: report)
            let record = EpochRecord(epoch: epoch, loss: meanLoss, learningRate: schedule.learningRateInDouble(base: configuration.learningRate.intendedDouble, epoch: epoch - 1),
                                     validationMeanAveragePrecision: scores.validation,
                                     trainingMeanAveragePrecision: scores.training,
                                     seconds: Date().timeIntervalSince(started))
            // Checkpoint first, then the progress file that names it: a kill between the two resumes
            // from the previous epoch, never from a half-written file.
            let name = String(format: "checkpoint-epoch-%03d.safetensors", epoch)
            try writeCheckpoint(network: network, optimizer: optimizer, to: directory.appendingPathComponent(name))
            let previous = state.checkpoint
            state.checkpoint = name
            state.history.append(record)
            try save(state, to: progressURL)
            if let previous, previous != name, let older = Self.olderCheckpoint(previous) {
                // Keep the last two; only files this run wrote are ever removed.
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(older))
            }
        }

        try export(network, history: state.history)
        return state.history
    }

    /// Decodes, resizes and runs the frozen trunk on every image, on every core.
    private func cache(_ urls: [URL], size: Int, network: FineTunedNetwork,
                       report: (@Sendable (FineTuningProgress) -> Void)?) -> [Result<FeatureMap, TrainingDataError>] {
        let counter = ProgressCount()
        return ParallelImageWork.map(urls.count) { index, workspace in
            let result = Result { () throws(TrainingDataError) -> FeatureMap in
                try network.frozenFeatures(of: urls[index], size: size, workspace: workspace)
            }
            report?(FineTuningProgress(phase: .caching, epoch: 0, completed: counter.next(), total: urls.count))
            return result
        }
    }

    // MARK: - Epochs

    private func trainTuples(_ network: inout FineTunedNetwork, optimizer: inout RunOptimizer, groups: [ParameterGroup],
                             set: TrainingSet, features: [FeatureMap?], generator: inout SplitMix64, epoch: Int,
                             report: (@Sendable (FineTuningProgress) -> Void)?) throws -> Double {
        let (pairs, pool) = configuration.mining.draw(from: set, generator: &generator)
        report?(FineTuningProgress(phase: .mining, epoch: epoch, completed: 0, total: pairs.count + pool.count))
        var wanted = [FeatureMap?](repeating: nil, count: set.count)
        for index in Set(pairs.map(\.query) + pool) { wanted[index] = features[index] }
        let descriptors = network.describe(wanted).map { $0 ?? [] }
        let tuples = configuration.mining.tuples(pairs: pairs, pool: pool, descriptors: descriptors, set: set)
        let contrastive = ContrastiveLoss(margin: configuration.effectiveMargin)
        let triplet = TripletLoss(margin: configuration.effectiveMargin)
        var lossSum = 0.0, done = 0
        var augmented: [Int: FeatureMap] = [:]
        for batchStart in stride(from: 0, to: tuples.count, by: configuration.tuplesPerBatch) {
            network.parameters.zeroGradients()
            // Every image of the batch forward at once, the losses per tuple, every image backward at once.
            let batch = tuples[batchStart..<min(batchStart + configuration.tuplesPerBatch, tuples.count)]
                .filter { $0.images.allSatisfy { features[$0] != nil } }
            let maps = trainingMaps(batch.flatMap(\.images), set: set, features: features, network: network, epoch: epoch,
                                    epochCache: &augmented)
            let outputs = network.forward(maps)
            var gradients: [[Float]] = []
            var offset = 0
            for tuple in batch {
                let descriptors = outputs[offset..<(offset + tuple.images.count)].map(\.descriptor)
                offset += tuple.images.count
                let (loss, tupleGradients) = configuration.loss == .triplet
                    ? triplet(descriptors, labels: tuple.lossLabels)
                    : contrastive(descriptors, labels: tuple.lossLabels)
                gradients += tupleGradients
                lossSum += loss
                done += 1
            }
            network.backward(gradients, tapes: outputs.map(\.tape))
            report?(FineTuningProgress(phase: .training, epoch: epoch, completed: done, total: tuples.count,
                                       loss: lossSum / Double(max(done, 1)), learningRate: Double(groups.first?.learningRate ?? 0)))
            optimizer.step(&network.parameters, groups: groups)
        }
        return done > 0 ? lossSum / Double(done) : .nan
    }

    private func trainCosine(_ network: inout FineTunedNetwork, head: inout CosineMarginHead, optimizer: inout RunOptimizer,
                             groups: [ParameterGroup], set: TrainingSet, features: [FeatureMap?], generator: inout SplitMix64,
                             epoch: Int, report: (@Sendable (FineTuningProgress) -> Void)?) -> Double {
        let batches = configuration.batches.epoch(set, generator: &generator)
        let total = batches.reduce(0) { $0 + $1.count }
        var lossSum = 0.0, done = 0
        var augmented: [Int: FeatureMap] = [:]
        for batch in batches {
            network.parameters.zeroGradients()
            let usable = batch.filter { features[$0] != nil && set.labels[$0] != nil }
            guard !usable.isEmpty else { continue }
            let forward = network.forward(trainingMaps(usable, set: set, features: features, network: network, epoch: epoch,
                                                       epochCache: &augmented))
            let outputs = forward.map(\.descriptor), tapes = forward.map(\.tape)
            let labels = usable.compactMap { set.labels[$0] }
            let (loss, gradients) = head(outputs, labels: labels, parameters: &network.parameters)
            network.backward(gradients, tapes: tapes)
            optimizer.step(&network.parameters, groups: groups)
            lossSum += loss * Double(outputs.count)
            done += outputs.count
            report?(FineTuningProgress(phase: .training, epoch: epoch, completed: done, total: total,
                                       loss: lossSum / Double(done), learningRate: Double(groups.first?.learningRate ?? 0)))
        }
        return done > 0 ? lossSum / Double(done) : .nan
    }

    /// The frozen features a training step uses: the cache, or with augmentation the images changed
    /// afresh for this epoch (seeded by run, epoch and image, so a resumed run sees the same), on every
    /// core. An image keeps one augmentation for the whole epoch, so its features are computed once per
    /// epoch (`epochCache`) however many tuples it appears in. An image that cannot be read again falls
    /// back to its cached plain features.
    private func trainingMaps(_ images: [Int], set: TrainingSet, features: [FeatureMap?], network: FineTunedNetwork,
                              epoch: Int, epochCache: inout [Int: FeatureMap]) -> [FeatureMap] {
        guard let augmentation = configuration.augmentation else { return images.compactMap { features[$0] } }
        let size = configuration.imageSize, seed = configuration.seed
        let missing = Array(Set(images.filter { epochCache[$0] == nil })).sorted()
        let computed = ParallelImageWork.map(missing.count) { position, workspace -> FeatureMap? in
            let image = missing[position]
            return (try? network.frozenFeatures(of: set.url(image), size: size, workspace: workspace, augmentation: augmentation,
                                                seed: ImageAugmentation.seed(run: seed, epoch: epoch, image: image))) ?? features[image]
        }
        for (image, map) in zip(missing, computed) { epochCache[image] = map }
        return images.compactMap { epochCache[$0] }
    }

    // MARK: - Validation

    /// mAP of the validation benchmark and of the training set (its labelled images as queries), with
    /// the current weights.
    private func evaluate(_ network: FineTunedNetwork, trainingFeatures: [FeatureMap?], validationFeatures: [FeatureMap?],
                          epoch: Int, report: (@Sendable (FineTuningProgress) -> Void)?) -> (validation: Double?, training: Double?) {
        report?(FineTuningProgress(phase: .validating, epoch: epoch, completed: 0, total: validationFeatures.count + trainingFeatures.count))
        var validationScore: Double?
        if let validation {
            let descriptors = network.describe(validationFeatures)
            validationScore = Self.meanAveragePrecision(descriptors: descriptors, labels: validation.labels)
        }
        let trainingDescriptors = network.describe(trainingFeatures)
        let trainingLabels = trainingSet.labels.map { $0.map { trainingSet.classNames[$0] } }
        let trainingScore = Self.meanAveragePrecision(descriptors: trainingDescriptors, labels: trainingLabels)
        return (validationScore, trainingScore)
    }

    /// Folder-benchmark mAP (every labelled image queries all others; unreadable images are left out).
    public static func meanAveragePrecision(descriptors: [[Float]?], labels: [String?]) -> Double? {
        let present = descriptors.indices.filter { descriptors[$0] != nil }
        guard let dimension = present.first.flatMap({ descriptors[$0]?.count }) else { return nil }
        let matrix = Matrix(rowVectors: present.map { descriptors[$0] ?? [Float](repeating: 0, count: dimension) })
        let similarities = matrix.multiplied(byTransposeOf: matrix)
        var rankings: [[Int]] = [], truths: [QueryGroundTruth] = []
        for (row, image) in present.enumerated() {
            guard let label = labels[image] else { continue }
            let order = present.indices.filter { $0 != row }.sorted { a, b in
                let sa = similarities[row, a], sb = similarities[row, b]
                return sa != sb ? sa > sb : a < b
            }
            let positives = present.indices.filter { $0 != row && labels[present[$0]] == label }
            guard !positives.isEmpty else { continue }
            rankings.append(order)
            truths.append(QueryGroundTruth(positives: positives))
        }
        guard !rankings.isEmpty else { return nil }
        return RetrievalMetrics.evaluate(rankings: rankings, groundTruth: truths).meanAveragePrecision
    }

    // MARK: - Run directory

    private func prepareDirectory(_ progressURL: URL) throws -> Progress {
        let manager = FileManager.default
        if let data = manager.contents(atPath: progressURL.path) {
            let saved: Progress
            do {
                saved = try JSONDecoder().decode(Progress.self, from: data)
            } catch {
                throw TrainingDataError(code: .malformed, file: progressURL.path, reason: "not a training run's progress file (\(error.localizedDescription))")
            }
            // Only the number of epochs may change: a finished run can be extended, as the learning rate
            // schedule depends on the epoch alone.
            var comparable = saved.configuration
            comparable.epochs = configuration.epochs
            guard comparable == configuration, saved.trainingImages == trainingSet.images else {
                throw TrainingDataError(code: .incompatibleRun, file: directory.path,
                                        reason: "holds a run with other settings or other training images; resume it with the same options (only --epochs may change) or choose another --out")
            }
            var resumed = saved
            resumed.configuration = configuration
            return resumed
        }
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw TrainingDataError(code: .incompatibleRun, file: directory.path, reason: "exists and is not a directory")
            }
            let contents = (try? manager.contentsOfDirectory(atPath: directory.path)) ?? []
            guard contents.isEmpty else {
                throw TrainingDataError(code: .incompatibleRun, file: directory.path,
                                        reason: "is not empty and is not a training run (no \(Self.progressFileName)); choose a new or empty --out")
            }
        }
        do {
            try manager.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingDataError(code: .unreadable, file: directory.path, reason: "cannot create the run directory (\(error.localizedDescription))")
        }
        return Progress(configuration: configuration, trainingImages: trainingSet.images, history: [], checkpoint: nil, skipped: [:])
    }

    private func save(_ progress: Progress, to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try DurableFile.write(try encoder.encode(progress), to: url)
    }

    /// The checkpoint two epochs before `name` (`checkpoint-epoch-007…` → `…-006…` is kept, `…-005…` goes).
    static func olderCheckpoint(_ name: String) -> String? {
        let digits = name.drop { !$0.isNumber }.prefix { $0.isNumber }
        guard let epoch = Int(digits), epoch >= 2 else { return nil }
        return String(format: "checkpoint-epoch-%03d.safetensors", epoch - 1)
    }

    private static let parameterPrefix = "parameter/"
    private static let optimizerPrefix = "optimizer/"

    private func writeCheckpoint(network: FineTunedNetwork, optimizer: RunOptimizer, to url: URL) throws {
        var tensors: [StateTensor] = network.parameters.parameters.map {
            StateTensor(name: Self.parameterPrefix + $0.name, shape: $0.shape, values: $0.value)
        }
        tensors += optimizer.stateDictionary(network.parameters).tensors.map {
            StateTensor(name: Self.optimizerPrefix + $0.name, shape: $0.shape, values: $0.values)
        }
        try CheckpointWriter.writeSafetensors(StateDictionary(tensors), metadata: ["format": "landmark-training-checkpoint"], to: url)
    }

    private func restore(_ url: URL, network: inout FineTunedNetwork, optimizer: inout RunOptimizer) throws {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint.load(contentsOf: url)
        } catch {
            throw TrainingDataError(code: .malformed, file: url.path, reason: "cannot resume from it: \(error.reason)")
        }
        for position in 0..<network.parameters.count {
            var parameter = network.parameters[position]
            guard let saved = checkpoint.tensors[Self.parameterPrefix + parameter.name], saved.values.count == parameter.count else {
                throw TrainingDataError(code: .incompatibleRun, file: url.path, reason: "has no matching tensor for \(parameter.name)")
            }
            parameter.value = saved.values
            network.parameters[position] = parameter
        }
        var optimizerState: [StateTensor] = []
        for name in checkpoint.tensorNames where name.hasPrefix(Self.optimizerPrefix) {
            if let tensor = checkpoint.tensors[name] {
                optimizerState.append(StateTensor(name: String(name.dropFirst(Self.optimizerPrefix.count)), shape: tensor.shape, values: tensor.values))
            }
        }
        do {
            try optimizer.load(StateDictionary(optimizerState), parameters: network.parameters)
        } catch {
            throw TrainingDataError(code: .incompatibleRun, file: url.path, reason: "optimiser state: \(error)")
        }
    }

    private func export(_ network: FineTunedNetwork, history: [EpochRecord]) throws {
        try FineTunedExport.write(network, to: directory, epoch: history.last?.epoch ?? 0)
        try TrainingCurves.write(history, to: directory.appendingPathComponent("curves.png"))
    }
}

/// A counter shared by worker threads, for progress reports.
final class ProgressCount: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}

extension TrainingSet {
    /// The same set with only the images `keep` accepts; pairs referring to dropped images go too.
    func filtered(_ keep: (Int) -> Bool) -> TrainingSet {
        var newIndex = [Int?](repeating: nil, count: count)
        var images: [String] = [], labels: [Int?] = []
        for index in 0..<count where keep(index) {
            newIndex[index] = images.count
            images.append(self.images[index])
            labels.append(self.labels[index])
        }
        let remapped = pairs?.compactMap { pair -> QueryPositivePair? in
            guard let query = newIndex[pair.query], let positive = newIndex[pair.positive] else { return nil }
            return QueryPositivePair(query: query, positive: positive)
        }
        return TrainingSet(root: root, images: images, labels: labels, classNames: classNames, pairs: remapped)
    }
}
