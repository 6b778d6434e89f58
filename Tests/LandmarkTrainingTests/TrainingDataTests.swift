import Foundation
import LandmarkImage
import LandmarkLinearAlgebra
@testable import LandmarkTraining
import Testing

/// A temporary folder with empty files standing in for images (the data layer never decodes them).
private func makeFolder(_ files: [String], groundTruth: String?) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("training-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("images"), withIntermediateDirectories: true)
    for file in files { FileManager.default.createFile(atPath: folder.appendingPathComponent(file).path, contents: Data([1])) }
    if let groundTruth { try groundTruth.write(to: folder.appendingPathComponent("ground_truth.tsv"), atomically: true, encoding: .utf8) }
    return folder
}

@Test func folderBenchmarkBecomesClassesAndPairs() throws {
    let files = ["images/a1.jpg", "images/a2.jpg", "images/b1.jpg", "images/b2.jpg", "images/b3.jpg", "images/x.jpg"]
    let folder = try makeFolder(files, groundTruth: "image\tlandmark\n" + files.enumerated().map { index, file in
        "\(file)\t\(index < 2 ? "a" : index < 5 ? "b" : "")"
    }.joined(separator: "\n") + "\n")
    defer { try? FileManager.default.removeItem(at: folder) }
    let set = try TrainingSet.load(folder)
    #expect(set.images == files)
    #expect(set.classNames == ["a", "b"])
    #expect(set.labels == [0, 0, 1, 1, 1, nil])
    // 2·1 ordered pairs of a, 3·2 of b; the distractor is never a query or positive.
    #expect(set.candidatePairs.count == 8)
    #expect(set.candidatePairs.allSatisfy { set.labels[$0.query] == set.labels[$0.positive] && $0.query != $0.positive })
}

@Test func malformedTablesNameTheLine() throws {
    let folder = try makeFolder(["images/a.jpg"], groundTruth: "image\tlandmark\nimages/a.jpg\ta\nimages/missing.jpg\ta\n")
    defer { try? FileManager.default.removeItem(at: folder) }
    #expect(throws: TrainingDataError.self) { try TrainingSet.load(folder) }
    do {
        _ = try TrainingSet.load(folder)
    } catch {
        #expect(error.code == .missingImage)
        #expect(error.reason.contains("line 3"))
    }
    try "image\tlabel\n".write(to: folder.appendingPathComponent("ground_truth.tsv"), atomically: true, encoding: .utf8)
    do {
        _ = try TrainingSet.load(folder)
        Issue.record("a wrong header was accepted")
    } catch {
        #expect(error.code == .malformed)
    }
    try "image\tlandmark\n../escape.jpg\ta\n".write(to: folder.appendingPathComponent("ground_truth.tsv"), atomically: true, encoding: .utf8)
    #expect(throws: TrainingDataError.self) { try TrainingSet.load(folder) }
}

@Test func tupleDirectoryRoundTrips() throws {
    let files = ["images/a1.jpg", "images/a2.jpg", "images/b1.jpg", "images/b2.jpg"]
    let root = try makeFolder(files, groundTruth: nil)
    defer { try? FileManager.default.removeItem(at: root) }
    let tuples = root.appendingPathComponent("mined")
    try TupleFile.write(to: tuples, root: root,
                        clusters: [("images/a1.jpg", "c0"), ("images/a2.jpg", "c0"), ("images/b1.jpg", "c1"), ("images/b2.jpg", "c1")],
                        tuples: [TupleFile.Tuple(query: "images/a1.jpg", positive: "images/a2.jpg", negatives: ["images/b1.jpg"]),
                                 TupleFile.Tuple(query: "images/b2.jpg", positive: "images/b1.jpg")],
                        parameters: ["inliers": "30"])
    let set = try TrainingSet.load(tuples)
    #expect(set.root.standardizedFileURL.path == root.standardizedFileURL.path)
    #expect(set.classNames == ["c0", "c1"])
    #expect(set.pairs == [.init(query: 0, positive: 1), .init(query: 3, positive: 2)])
    #expect(set.candidatePairs == set.pairs)
}

@Test func tupleWithQueryAndPositiveInDifferentClustersIsRejected() throws {
    let files = ["images/a1.jpg", "images/b1.jpg"]
    let root = try makeFolder(files, groundTruth: nil)
    defer { try? FileManager.default.removeItem(at: root) }
    let tuples = root.appendingPathComponent("mined")
    try TupleFile.write(to: tuples, root: root, clusters: [("images/a1.jpg", "c0"), ("images/b1.jpg", "c1")],
                        tuples: [TupleFile.Tuple(query: "images/a1.jpg", positive: "images/b1.jpg")], parameters: [:])
    #expect(throws: TrainingDataError.self) { try TrainingSet.load(tuples) }
}

/// Hard negatives: nearest first, never the query's class, at most one per class, distractors allowed.
@Test func miningTakesHardestDiverseNegatives() {
    // Classes: 0 = {0, 1}, 1 = {2, 3}, 2 = {4}; image 5 is a distractor.
    let set = TrainingSet(root: URL(fileURLWithPath: "/"), images: (0..<6).map { "\($0).jpg" },
                          labels: [0, 0, 1, 1, 2, nil], classNames: ["a", "b", "c"])
    func unit(_ angle: Float) -> [Float] { [cos(angle), sin(angle)] }
    // Around the query (angle 0): 2 and 3 (class 1) are nearest, then the distractor, then 4.
    let descriptors = [unit(0), unit(1.5), unit(0.1), unit(0.2), unit(0.9), unit(0.5)]
    let mining = TupleMining(queriesPerEpoch: 10, poolSize: 10, negativesPerTuple: 3)
    let tuples = mining.tuples(pairs: [.init(query: 0, positive: 1)], pool: [1, 2, 3, 4, 5], descriptors: descriptors, set: set)
    #expect(tuples == [TrainingTuple(query: 0, positive: 1, negatives: [2, 5, 4])])
    #expect(tuples[0].lossLabels == [-1, 1, 0, 0, 0])
}

@Test func drawingIsSeededAndWithoutReplacement() {
    let set = TrainingSet(root: URL(fileURLWithPath: "/"), images: (0..<20).map { "\($0).jpg" },
                          labels: (0..<20).map { $0 / 4 }, classNames: ["a", "b", "c", "d", "e"])
    let mining = TupleMining(queriesPerEpoch: 7, poolSize: 9, negativesPerTuple: 2)
    var first = SplitMix64(seed: 42), second = SplitMix64(seed: 42), other = SplitMix64(seed: 43)
    let a = mining.draw(from: set, generator: &first), b = mining.draw(from: set, generator: &second)
    let c = mining.draw(from: set, generator: &other)
    #expect(a.pairs == b.pairs && a.pool == b.pool)
    #expect(a.pairs != c.pairs || a.pool != c.pool)
    #expect(a.pairs.count == 7 && Set(a.pool).count == 9)
}

@Test func classBalancedBatchesCoverEveryImageOnce() {
    let set = TrainingSet(root: URL(fileURLWithPath: "/"), images: (0..<30).map { "\($0).jpg" },
                          labels: (0..<30).map { $0 < 29 ? $0 % 5 : nil }, classNames: ["a", "b", "c", "d", "e"])
    var generator = SplitMix64(seed: 1)
    let batches = ClassBalancedBatches(imagesPerBatch: 8, imagesPerClass: 4).epoch(set, generator: &generator)
    let all = batches.flatMap { $0 }
    #expect(all.count == 29 && Set(all).count == 29)
    #expect(batches.dropLast().allSatisfy { $0.count >= 8 })
}

/// GLDv2's train.csv: images at train/a/b/c/<id>.jpg under the root (the folder of train.csv, or its
/// parent for metadata/train.csv); ids whose archive was not downloaded are left out, none at all is an error.
@Test func googleLandmarksTrainCSVBecomesClasses() throws {
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("gldv2-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    let present = [("abc0001", "17"), ("abd0002", "17"), ("f120003", "4"), ("f120004", "99")]
    for (id, _) in present {
        let directory = root.appendingPathComponent("train/\(id.prefix(1))/\(id.dropFirst().prefix(1))/\(id.dropFirst(2).prefix(1))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: directory.appendingPathComponent("\(id).jpg").path, contents: Data([1]))
    }
    try FileManager.default.createDirectory(at: root.appendingPathComponent("metadata"), withIntermediateDirectories: true)
    let csv = "id,url,landmark_id\n" + (present + [("0000999", "4")]).map { "\($0.0),http://example.org/\($0.0).jpg,\($0.1)" }
        .joined(separator: "\n") + "\n"
    try csv.write(to: root.appendingPathComponent("metadata/train.csv"), atomically: true, encoding: .utf8)

    for path in [root, root.appendingPathComponent("metadata/train.csv")] {
        let set = try TrainingSet.load(path)
        #expect(set.root.standardizedFileURL.path == root.standardizedFileURL.path)
        #expect(set.images == ["train/a/b/c/abc0001.jpg", "train/a/b/d/abd0002.jpg", "train/f/1/2/f120003.jpg", "train/f/1/2/f120004.jpg"])
        #expect(set.classNames == ["17", "4", "99"])
        #expect(set.labels == [0, 0, 1, 2])
        #expect(FileManager.default.fileExists(atPath: set.url(2).path))
    }

    let empty = root.appendingPathComponent("other.csv")
    try "id,url,landmark_id\n0000999,u,4\n".write(to: empty, atomically: true, encoding: .utf8)
    #expect(throws: TrainingDataError.self) { try TrainingSet.load(empty) }
    let malformed = root.appendingPathComponent("bad.csv")
    try "id,landmark\nabc0001,17\n".write(to: malformed, atomically: true, encoding: .utf8)
    #expect(throws: TrainingDataError.self) { try TrainingSet.load(malformed) }
}

/// Augmentation is a function of its seed: the same seed gives the same picture, another seed another;
/// the longer side and (up to rounding) the aspect ratio are kept; with everything off it is the identity.
@Test func augmentationIsSeededAndKeepsTheShape() {
    var pixels = [UInt8](repeating: 0, count: 120 * 80 * 3)
    for y in 0..<80 {
        for x in 0..<120 {
            pixels[(y * 120 + x) * 3] = UInt8(x * 2)
            pixels[(y * 120 + x) * 3 + 1] = UInt8(y * 3)
            pixels[(y * 120 + x) * 3 + 2] = UInt8((x + y) % 256)
        }
    }
    let image = RGBImage(width: 120, height: 80, pixels: pixels)
    let augmentation = ImageAugmentation()
    let a = augmentation.apply(image, seed: 7), b = augmentation.apply(image, seed: 7), c = augmentation.apply(image, seed: 8)
    #expect(a == b)
    #expect(a != c)
    #expect(a.width == 120 && abs(a.height - 80) <= 1)
    #expect(ImageAugmentation.seed(run: 1, epoch: 2, image: 3) == ImageAugmentation.seed(run: 1, epoch: 2, image: 3))
    #expect(ImageAugmentation.seed(run: 1, epoch: 2, image: 3) != ImageAugmentation.seed(run: 1, epoch: 3, image: 3))
    let none = ImageAugmentation(minimumCropScale: 1, maximumShear: 0, colourJitter: 0)
    #expect(none.apply(image, seed: 99) == image)
}
