import Foundation
import LandmarkPipeline
import LandmarkDemo

/// A fresh directory under the system's temporary directory, removed by `cleanUp`.
struct TemporaryDirectory {
    let url: URL

    init(_ label: String = #function) throws {
        let name = "landmark-test-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
        url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }

    func path(_ component: String) -> URL { url.appendingPathComponent(component) }
}

/// A small synthetic folder benchmark written as real JPEG files.
func makeSyntheticDataset(in directory: URL, landmarks: Int = 4, views: Int = 4, distractors: Int = 4,
                          seed: UInt64 = 7) throws -> [SyntheticLandmarkDataset.Entry] {
    try SyntheticLandmarkDataset(configuration: .init(
        landmarkCount: landmarks, viewsPerLandmark: views, distractorCount: distractors,
        width: 200, height: 150, seed: seed)).write(to: directory)
}

/// The package root, found from this file's location.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The shared development photographs, when this checkout has them beside it.
var developmentSet: URL? {
    let url = packageRoot.deletingLastPathComponent().appendingPathComponent("shared/devset")
    return FileManager.default.fileExists(atPath: url.appendingPathComponent("ground_truth.tsv").path) ? url : nil
}

/// The `landmark` executable built next to the test bundle, if the build made it.
var landmarkExecutable: URL? {
    var candidates: [URL] = []
    if let bundleDirectory = Bundle.main.executableURL?.deletingLastPathComponent() {
        candidates.append(bundleDirectory.appendingPathComponent("landmark"))
        candidates.append(bundleDirectory.deletingLastPathComponent().appendingPathComponent("landmark"))
    }
    let argumentDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    candidates.append(argumentDirectory.appendingPathComponent("landmark"))
    candidates.append(argumentDirectory.deletingLastPathComponent().appendingPathComponent("landmark"))
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// Runs the `landmark` executable to completion and returns its exit code and standard output.
func runLandmark(_ executable: URL, _ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outputData = output.fileHandleForReading.readDataToEndOfFile()
    let errorData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
}

/// Starts the `landmark` executable and kills it (SIGKILL) as soon as `checkpoint` exists, as a
/// crash or a power cut would; false when it finished (or 60 s passed) before the file appeared.
func runLandmarkKilled(_ executable: URL, _ arguments: [String], whenExists checkpoint: URL) throws -> Bool {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    let deadline = Date().addingTimeInterval(60)
    while !FileManager.default.fileExists(atPath: checkpoint.path), process.isRunning, Date() < deadline { usleep(500) }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    return process.terminationReason == .uncaughtSignal && FileManager.default.fileExists(atPath: checkpoint.path)
}

/// The work folder of an unfinished `landmark index` run in `index`, as the builder marks it: what a
/// test puts checkpoints into to simulate an interruption.
func makeWorkDirectory(in index: URL) throws -> URL {
    let directory = index.appendingPathComponent(IndexLayout.workDirectoryName)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try Data().write(to: directory.appendingPathComponent(IndexLayout.workMarkerFileName))
    return directory
}

/// `metadata` with the fingerprints of `names` below `images`, as a checkpoint of an interrupted run
/// records them (without them, its images are described again).
func checkpointMetadata(_ metadata: [String: String], for names: [String], below images: URL) throws -> [String: String] {
    var result = metadata
    result[ImageFingerprintTable.metadataKey] = try ImageFingerprintTable.current(of: names, in: images).metadataValue(file: "")
    return result
}
