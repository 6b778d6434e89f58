import Foundation
import LandmarkDescriptors
import LandmarkEvaluation
import LandmarkPipeline
import LandmarkRecognition
import Testing

/// Recognition on a miniature Google Landmarks v2 layout built from synthetic photographs: the reader,
/// the train-index labelling by id and the GAP of the whole path.
@Suite struct GLDv2RecognitionTests {
    /// GLDv2 ids are hex strings; the first three characters name the folders.
    static func id(_ number: Int) -> String { "abc" + String(format: "%013x", number) }

    @Test func recognisesHeldOutViewsOfAMiniatureGLDv2() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let photos = temporary.path("photos")
        let entries = try makeSyntheticDataset(in: photos, landmarks: 3, views: 4, distractors: 2)
        let root = temporary.path("gldv2")
        let dataset = GLDv2Dataset(root: root)

        // Views 1–3 of every landmark train; view 4 and the distractors are test images.
        var train = "id,url,landmark_id\n"
        var solution = "id,landmarks,Usage\n"
        var landmarkOfTest: [String: String] = [:]
        for (number, entry) in entries.enumerated() {
            let id = Self.id(number)
            let isTrain = entry.landmark != nil && !entry.relativePath.contains("__4")
            let target = dataset.imageURL(split: isTrain ? .train : .test, id: id)
            try FileManager.default.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: photos.appendingPathComponent(entry.relativePath), to: target)
            if isTrain {
                train += "\(id),http://example.org/\(id).jpg,\(entry.landmark ?? "")\n"
            } else {
                solution += "\(id),\(entry.landmark ?? ""),\(number % 2 == 0 ? "Public" : "Private")\n"
                landmarkOfTest[id] = entry.landmark
            }
        }
        // A test image listed in the solution but missing on disk is skipped, not fatal.
        solution += "\(Self.id(999)),,Public\n"
        try Data(train.utf8).write(to: root.appendingPathComponent("train.csv"))
        try Data(solution.utf8).write(to: root.appendingPathComponent("recognition_solution_v2.1.csv"))

        let indexDirectory = temporary.path("train.index")
        _ = try IndexBuilder.build(images: root.appendingPathComponent("train"), index: indexDirectory,
                                   extractor: GradientColourHistogramBaseline())
        let index = try RetrievalIndex.open(indexDirectory)
        let evaluation = try GLDv2RecognitionEvaluation(dataset: dataset, trainIndex: index,
                                                        recognition: KNNRecognition(inlierWeight: 0), verifies: false)
        #expect(evaluation.recognition.labelledImageCount == 9)
        let report = try evaluation.evaluate(pipeline: "baseline")

        #expect(report.skipped.map(\.image) == [dataset.imageURL(split: .test, id: Self.id(999)).path])
        #expect(report.predictions.count == 5)
        #expect(report.scores.labelledQueries == 3)
        #expect(report.scores.distractorQueries == 2)
        // The same figures, recomputed from the predictions with the challenge's metric.
        var predictions: [String: RecognitionMetrics.Prediction] = [:]
        for (id, prediction) in report.predictions {
            if let label = prediction.label { predictions[id] = .init(label: label, confidence: prediction.confidence) }
        }
        let truth = landmarkOfTest.mapValues { [$0] }.merging(
            report.predictions.keys.filter { landmarkOfTest[$0] == nil }.map { ($0, [String]()) }) { a, _ in a }
        #expect(abs(report.scores.globalAveragePrecision
                    - RecognitionMetrics.globalAveragePrecision(predictions: predictions, solution: truth)) < 1e-12)
        let correct = landmarkOfTest.filter { report.predictions[$0.key]?.label == $0.value }.count
        #expect(report.scores.accuracy == Double(correct) / 3)
        // Held-out views of a synthetic landmark resemble its other views: at least two of three are named.
        #expect(correct >= 2)
    }

    @Test func aTrainIndexOfOtherImagesIsRefused() throws {
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let photos = temporary.path("photos")
        _ = try makeSyntheticDataset(in: photos, landmarks: 1, views: 2, distractors: 0)
        let root = temporary.path("gldv2")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("id,url,landmark_id\n\(Self.id(1)),u,7\n".utf8).write(to: root.appendingPathComponent("train.csv"))
        let indexDirectory = temporary.path("index")
        _ = try IndexBuilder.build(images: photos, index: indexDirectory, extractor: GradientColourHistogramBaseline())
        #expect(throws: PipelineError.self) {
            try GLDv2RecognitionEvaluation(dataset: GLDv2Dataset(root: root), trainIndex: RetrievalIndex.open(indexDirectory),
                                           recognition: KNNRecognition(), verifies: false)
        }
    }
}
