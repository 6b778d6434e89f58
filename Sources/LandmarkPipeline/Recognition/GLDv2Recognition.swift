import Foundation
import LandmarkEvaluation
import LandmarkRecognition

/// Recognition on the Google Landmarks v2 files (METHODS.md §8): the test images of
/// `recognition_solution_v2.1.csv` (Public and Private) are recognised against a train index built from
/// `<root>/train`, labelled by `train.csv`, and scored by GAP. Test images missing on disk are skipped.
public struct GLDv2RecognitionEvaluation: Sendable {
    public var recognition: IndexRecognition

    /// Labels the train index's images by `train.csv` (an image's id is its file name without extension).
    public init(dataset: GLDv2Dataset, trainIndex: RetrievalIndex, recognition: KNNRecognition,
                verifies: Bool) throws(PipelineError) {
        let train: [GLDv2TrainImage]
        do {
            train = try dataset.trainImages()
        } catch {
            throw PipelineError(code: .invalidDataset, file: error.file, reason: error.reason)
        }
        var landmarkOfID: [String: String] = [:]
        for image in train { landmarkOfID[image.id] = image.landmarkID }
        var labelOfImage: [String: String] = [:]
        for identifier in trainIndex.store.identifiers {
            let id = URL(fileURLWithPath: identifier).deletingPathExtension().lastPathComponent
            if let landmark = landmarkOfID[id] { labelOfImage[identifier] = landmark }
        }
        guard !labelOfImage.isEmpty else {
            throw PipelineError(code: .invalidDataset, file: trainIndex.directory.path,
                                reason: "no indexed image is listed in train.csv (index <root>/train to build the train index)")
        }
        self.recognition = IndexRecognition(index: trainIndex, labels: LandmarkLabels(labelOfImage),
                                            recognition: recognition)
        if !verifies { self.recognition.verifier = nil }
        self.dataset = dataset
    }

    public let dataset: GLDv2Dataset

    /// Recognises every test image of the solution that exists on disk and scores the predictions.
    public func evaluate(pipeline: String) throws(PipelineError) -> RecognitionReport {
        let start = Date()
        let solution: [String: [String]]
        do {
            solution = try dataset.recognitionSolution().solution()
        } catch {
            throw PipelineError(code: .invalidDataset, file: error.file, reason: error.reason)
        }
        var skipped: [SkippedImage] = []
        var ids: [String] = []
        for id in solution.keys.sorted() {
            let url = dataset.imageURL(split: .test, id: id)
            if FileManager.default.fileExists(atPath: url.path) { ids.append(id) } else {
                skipped.append(SkippedImage(image: url.path, reason: "not on disk"))
            }
        }
        let answers = recognition.recognize(ids.map { dataset.imageURL(split: .test, id: $0) })
        var predictions: [String: RecognitionPrediction] = [:]
        for (id, answer) in zip(ids, answers) {
            switch answer {
            case .success(let answer): predictions[id] = answer.prediction
            case .failure(let failure): skipped.append(failure)
            }
        }
        let scores = RecognitionScores(predictions: predictions, solution: solution)
        let knn = recognition.recognition
        return RecognitionReport(
            dataset: dataset.root.path, pipeline: pipeline, neighbours: knn.neighbours,
            inlierWeight: recognition.verifier == nil ? 0 : knn.inlierWeight, inlierSaturation: knn.inlierSaturation,
            scores: scores, predictions: predictions, skipped: skipped, seconds: Date().timeIntervalSince(start))
    }
}
