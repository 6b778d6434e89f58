import LandmarkLinearAlgebra

/// Leave-one-out recognition with a calibrated confidence and "no landmark" answers, everything chosen by
/// cross-validation over landmarks (issue 11, item 6): K, the "no landmark" threshold and the calibration
/// used for the images of one landmark are chosen and fitted on the other landmarks only, so the figures
/// say what the method does for a landmark it was not tuned on.
///
/// K and the threshold maximise the share of right answers on the training folds — the right landmark
/// for a landmark photo, "no landmark" for a distractor or a photo whose landmark was hidden — weighted
/// as the calibration is (`unknownShare`).
public struct CalibratedLeaveOneOut: Sendable {
    /// K values to choose from.
    public var candidateNeighbours: [Int]
    /// λ and τ of the inlier term (λ = 0: similarity voting only).
    public var inlierWeight: Double
    public var inlierSaturation: Int
    /// Share of the calibration weight given to photos of unknown landmarks (see `RecognitionCalibration`).
    public var unknownShare: Double
    /// Calibrated probabilities below which the answer may be "no landmark"; cross-validation picks one.
    public var candidateThresholds: [Double]

    public init(candidateNeighbours: [Int] = [1, 3, 5, 10], inlierWeight: Double = 1,
                inlierSaturation: Int = 70, unknownShare: Double = 0.05,
                candidateThresholds: [Double] = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]) {
        precondition(!candidateNeighbours.isEmpty && candidateNeighbours.allSatisfy { $0 > 0 }, "K must be positive")
        precondition(unknownShare > 0 && unknownShare < 1, "the unknown share must lie in (0, 1)")
        precondition(!candidateThresholds.isEmpty && candidateThresholds.allSatisfy { (0 ... 1).contains($0) },
                     "thresholds are probabilities")
        self.candidateNeighbours = candidateNeighbours
        self.inlierWeight = inlierWeight
        self.inlierSaturation = inlierSaturation
        self.unknownShare = unknownShare
        self.candidateThresholds = candidateThresholds
    }

    /// The neighbour lists a run needs, best first, `maximum K` long: every image's own (itself left out),
    /// and every labelled image's with its whole landmark left out. Callers verify these pairs (for the
    /// inlier term) before calling `predict`.
    public func neighbourLists(labels: [String?], similarities: Matrix) -> (own: [[Int]], landmarkHidden: [[Int?]]) {
        let count = labels.count
        let depth = candidateNeighbours.max() ?? 1
        let labelled = labels.indices.filter { labels[$0] != nil }
        func nearest(_ query: Int, excluding: (Int) -> Bool) -> [Int] {
            let row = query * count
            return labelled.filter { !excluding($0) }
                .sorted { similarities.storage[row + $0] != similarities.storage[row + $1]
                    ? similarities.storage[row + $0] > similarities.storage[row + $1] : $0 < $1 }
                .prefix(depth).map { $0 }
        }
        let own = (0 ..< count).map { query in nearest(query) { $0 == query } }
        let hidden: [[Int?]] = (0 ..< count).map { query in
            guard let label = labels[query] else { return [] }
            return nearest(query) { labels[$0] == label }
        }
        return (own, hidden)
    }

    /// The outcome: one calibrated prediction per image, and the K each image's fold chose.
    public struct Outcome: Sendable {
        public var predictions: [RecognitionPrediction]
        public var chosenNeighbours: [Int]
        /// The threshold each image's fold chose.
        public var chosenThresholds: [Double]
        /// The calibration fitted on every image with the K and threshold chosen most often (what a user's
        /// run on this labelled set would use).
        public var calibration: RecognitionCalibration
        public var neighbours: Int
    }

    /// Runs the cross-validation. `inliers(query, neighbour)` gives verified inliers (nil: not verified).
    public func predict(labels: [String?], similarities: Matrix, inliers: ((Int, Int) -> Int?)? = nil) -> Outcome {
        let count = labels.count
        let lists = neighbourLists(labels: labels, similarities: similarities)
        func neighbours(_ query: Int, _ rows: [Int]) -> [RecognitionNeighbour] {
            rows.map { row in
                RecognitionNeighbour(image: String(row), label: labels[row] ?? "",
                                     similarity: similarities.storage[query * count + row],
                                     inliers: inlierWeight > 0 ? inliers?(query, row) : nil)
            }
        }
        // Per K: every image's own prediction and evidence, and the landmark-hidden evidence.
        struct Run { var own: [RecognitionPrediction]; var ownEvidence: [PredictionEvidence]; var hiddenEvidence: [PredictionEvidence?] }
        var runs: [Int: Run] = [:]
        for k in Set(candidateNeighbours) {
            let recognition = KNNRecognition(neighbours: k, inlierWeight: inlierWeight, inlierSaturation: inlierSaturation)
            var run = Run(own: [], ownEvidence: [], hiddenEvidence: [])
            for query in 0 ..< count {
                let own = neighbours(query, lists.own[query])
                let prediction = recognition.predict(own)
                run.own.append(prediction)
                run.ownEvidence.append(recognition.evidence(own, prediction: prediction))
                let hiddenRows = lists.landmarkHidden[query].compactMap { $0 }
                if labels[query] != nil, !hiddenRows.isEmpty {
                    let hidden = neighbours(query, hiddenRows)
                    run.hiddenEvidence.append(recognition.evidence(hidden, prediction: recognition.predict(hidden)))
                } else {
                    run.hiddenEvidence.append(nil)
                }
            }
            runs[k] = run
        }
        /// Calibration examples of `images`, known ones first, and which of them are of unknown landmarks.
        func examples(_ run: Run, images: [Int]) -> [RecognitionCalibration.Example] {
            var known: [RecognitionCalibration.Example] = [], unknown: [RecognitionCalibration.Example] = []
            for image in images {
                if let truth = labels[image] {
                    known.append(.init(evidence: run.ownEvidence[image], isRight: run.own[image].label == truth))
                    if let hidden = run.hiddenEvidence[image] { unknown.append(.init(evidence: hidden, isRight: false)) }
                } else {
                    unknown.append(.init(evidence: run.ownEvidence[image], isRight: false))
                }
            }
            let unknownWeight = unknown.isEmpty ? 0 : unknownShare / (1 - unknownShare) * Double(max(known.count, 1)) / Double(unknown.count)
            return known + unknown.map { var example = $0; example.weight = unknownWeight; return example }
        }
        func calibrated(_ run: Run, _ calibration: RecognitionCalibration, images: [Int]) -> [RecognitionPrediction] {
            images.map { calibration.apply(run.own[$0], evidence: run.ownEvidence[$0]) }
        }
        /// Weighted share of right answers: the right landmark for a known example, "no landmark" for an
        /// unknown one. A known photo answered "no landmark" is a miss, like a wrong landmark.
        func rightAnswers(_ calibration: RecognitionCalibration, examples: [RecognitionCalibration.Example],
                          unknown: [Bool]) -> Double {
            var right = 0.0, total = 0.0
            for (example, isUnknown) in zip(examples, unknown) {
                total += example.weight
                let answered = calibration.probability(example.evidence) >= calibration.threshold
                if isUnknown ? !answered : (answered && example.isRight) { right += example.weight }
            }
            return total > 0 ? right / total : 0
        }
        // Folds: one per landmark; distractors dealt round-robin over them.
        let landmarks = Array(Set(labels.compactMap { $0 })).sorted()
        var fold = [Int](repeating: 0, count: count)
        var dealt = 0
        for image in 0 ..< count {
            if let label = labels[image], let position = landmarks.firstIndex(of: label) {
                fold[image] = position
            } else {
                fold[image] = landmarks.isEmpty ? 0 : dealt % landmarks.count
                dealt += 1
            }
        }
        var predictions = [RecognitionPrediction](repeating: RecognitionPrediction(label: nil, confidence: 0, scores: []), count: count)
        var chosen = [Int](repeating: candidateNeighbours[0], count: count)
        var chosenThresholds = [Double](repeating: candidateThresholds[0], count: count)
        for held in 0 ..< max(landmarks.count, 1) {
            let training = (0 ..< count).filter { fold[$0] != held }
            let testing = (0 ..< count).filter { fold[$0] == held }
            guard !testing.isEmpty else { continue }
            var best: (k: Int, score: Double, calibration: RecognitionCalibration)?
            for k in candidateNeighbours {
                guard let run = runs[k] else { continue }
                let trainingExamples = examples(run, images: training)
                let knownCount = training.filter { labels[$0] != nil }.count
                let unknown = trainingExamples.indices.map { $0 >= knownCount }
                let fitted = RecognitionCalibration.fit(trainingExamples)
                for threshold in candidateThresholds {
                    var calibration = fitted
                    calibration.threshold = threshold
                    let score = rightAnswers(calibration, examples: trainingExamples, unknown: unknown)
                    if let current = best, score <= current.score + 1e-12 { continue }
                    best = (k, score, calibration)
                }
            }
            guard let best, let run = runs[best.k] else { continue }
            for (image, prediction) in zip(testing, calibrated(run, best.calibration, images: testing)) {
                predictions[image] = prediction
                chosen[image] = best.k
                chosenThresholds[image] = best.calibration.threshold
            }
        }
        var frequency: [Int: Int] = [:]
        for k in chosen { frequency[k, default: 0] += 1 }
        let usual = frequency.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? candidateNeighbours[0]
        var thresholdFrequency: [Double: Int] = [:]
        for threshold in chosenThresholds { thresholdFrequency[threshold, default: 0] += 1 }
        let usualThreshold = thresholdFrequency.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }?.key ?? 0.5
        let calibration = runs[usual].map { RecognitionCalibration.fit(examples($0, images: Array(0 ..< count)), threshold: usualThreshold) }
            ?? RecognitionCalibration(weights: [0, 0, 0, 0], bias: 0, threshold: usualThreshold)
        return Outcome(predictions: predictions, chosenNeighbours: chosen, chosenThresholds: chosenThresholds,
                       calibration: calibration, neighbours: usual)
    }
}
