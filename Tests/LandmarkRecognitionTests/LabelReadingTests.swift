import Foundation
import LandmarkEvaluation
import Testing
@testable import LandmarkRecognition

private func temporaryFile(_ name: String, _ contents: String) throws -> URL {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("landmark-recognition-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appendingPathComponent(name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    return url
}

@Test func readsTSVWithHeaderBlankLinesAndUnlabelledRows() throws {
    let url = try temporaryFile("labels.tsv", "image\tlandmark\na.jpg\tbridge\n\n  \nb.jpg\t\nc.jpg\ttower\r\n")
    let labels = try LandmarkLabels.readTSV(url)
    #expect(labels == LandmarkLabels(["a.jpg": "bridge", "c.jpg": "tower"], baseDirectory: url.deletingLastPathComponent()))
    #expect(labels.label(of: "b.jpg") == nil)
    #expect(labels.label(of: "c.jpg") == "tower")
}

@Test func readsTSVWithoutHeader() throws {
    let url = try temporaryFile("labels.tsv", "x\t1\ny\t2")
    #expect(try LandmarkLabels.readTSV(url).labelOfImage == ["x": "1", "y": "2"])
}

@Test func malformedTSVLineNamesFileAndLine() throws {
    let url = try temporaryFile("broken.tsv", "image\tlandmark\na.jpg\tbridge\nb.jpg bridge\n")
    let error = try #require(throws: RecognitionError.self) { try LandmarkLabels.readTSV(url) }
    #expect(error.code == .malformedText)
    #expect(error.file == url.path)
    #expect(error.reason.contains("line 3"))
    #expect(error.description.contains("broken.tsv"))

    let duplicate = try temporaryFile("twice.tsv", "a\t1\nb\t2\na\t3\n")
    let duplicateError = try #require(throws: RecognitionError.self) { try LandmarkLabels.readTSV(duplicate) }
    #expect(duplicateError.code == .duplicateEntry)
    #expect(duplicateError.reason.contains("line 3") && duplicateError.reason.contains("line 1"))

    let missing = URL(fileURLWithPath: "/nonexistent/labels.tsv")
    #expect(throws: RecognitionError.self) { try LandmarkLabels.readTSV(missing) }
}

@Test func readsGLDv2Train() throws {
    let url = try temporaryFile("train.csv", "id,url,landmark_id\nabc1,http://x/1.jpg,17\nabc2,\"http://x/2,b.jpg\",17\nabc3,http://x/3.jpg,4\n")
    #expect(try LandmarkLabels.readGLDv2Train(url) == LandmarkLabels(["abc1": "17", "abc2": "17", "abc3": "4"]))
    let broken = try temporaryFile("train.csv", "id,url\nabc1,http://x\n")
    let error = try #require(throws: RecognitionError.self) { try LandmarkLabels.readGLDv2Train(broken) }
    #expect(error.code == .malformedText)
    #expect(error.file == broken.path)
}

@Test func folderBenchmarkLabelsLeaveOutDistractors() {
    let benchmark = FolderBenchmark(directory: URL(fileURLWithPath: "/tmp"), images: ["a.jpg", "d.jpg", "b/c.png"],
                                    labels: ["one", nil, "two"])
    #expect(LandmarkLabels.fromFolderBenchmark(benchmark)
        == LandmarkLabels(["a.jpg": "one", "b/c.png": "two"], baseDirectory: URL(fileURLWithPath: "/tmp")))
}

/// Issue 14, 7: labels name files relative to their own folder and label an index of any folder holding them.
@Test func labelsMatchIndexImagesByTheFilesTheyName() {
    let labels = LandmarkLabels(["images/a.jpg": "x", "images/sub/b.jpg": "y", "q123": "z"],
                                baseDirectory: URL(fileURLWithPath: "/data/set"))
    // An index of the images folder itself, of the benchmark root, and identifiers that are not paths.
    #expect(labels.resolved(identifiers: ["a.jpg", "sub/b.jpg", "c.jpg"], imageRoot: "/data/set/images").labelOfImage
        == ["a.jpg": "x", "sub/b.jpg": "y"])
    #expect(labels.resolved(identifiers: ["images/a.jpg", "ground.jpg"], imageRoot: "/data/set").labelOfImage == ["images/a.jpg": "x"])
    #expect(labels.resolved(identifiers: ["q123", "a.jpg"], imageRoot: "/elsewhere").labelOfImage == ["q123": "z"])
    // Paths that leave the labels' folder.
    let beside = LandmarkLabels(["../photos/a.jpg": "x"], baseDirectory: URL(fileURLWithPath: "/data/labels"))
    #expect(beside.resolved(identifiers: ["a.jpg"], imageRoot: "/data/photos").labelOfImage == ["a.jpg": "x"])
}
