import Foundation
import LandmarkDescriptors
import Testing

private var liteZeroPresent: Bool { (try? ModelCache.resolve("lite0")) != nil }

/// `landmark train` end to end on real EfficientNet-Lite0 weights and a small synthetic folder benchmark.
@Suite(.serialized, .enabled(if: liteZeroPresent, "EfficientNet-Lite0 weights absent (scripts/setup.sh fetches them)"))
struct TrainCommandLineTests {
    static let arguments = ["--model", "lite0", "--size", "96", "--validation-size", "96", "--epochs", "3",
                            "--queries-per-epoch", "16", "--negatives", "3", "--trainable-blocks", "2",
                            "--learning-rate", "1e-4", "--quiet"]

    struct Record: Decodable {
        var epoch: Int
        var loss: Double?
        var validationMeanAveragePrecision: Double?
    }

    @Test func killedTrainingResumesToTheSameWeightsAndTheCheckpointLoads() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let data = temporary.path("data")
        _ = try makeSyntheticDataset(in: data, landmarks: 4, views: 3, distractors: 2)

        let straight = try runLandmark(executable, ["train", data.path, "--out", temporary.path("straight").path, "--validation", data.path,
                                                    "--json"] + Self.arguments)
        #expect(straight.status == 0, "\(straight.error)")
        let records = try JSONDecoder().decode([Record].self, from: Data(straight.output.utf8))
        #expect(records.map(\.epoch) == [0, 1, 2, 3])
        #expect(records.dropFirst().allSatisfy { $0.loss.map(\.isFinite) == true })

        // Killed once its first epoch checkpoint exists, then run again: the same weights at the end.
        let killed = temporary.path("killed")
        let process = Process()
        process.executableURL = executable
        process.arguments = ["train", data.path, "--out", killed.path] + Self.arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let checkpoint = killed.appendingPathComponent("checkpoint-epoch-001.safetensors")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path), process.isRunning, Date() < deadline { usleep(500) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "training finished before it could be interrupted")
        #expect(!FileManager.default.fileExists(atPath: killed.appendingPathComponent("final.pth").path))
        let resumed = try runLandmark(executable, ["train", data.path, "--out", killed.path] + Self.arguments)
        #expect(resumed.status == 0, "\(resumed.error)")
        let a = try Data(contentsOf: temporary.path("straight/final.safetensors"))
        let b = try Data(contentsOf: killed.appendingPathComponent("final.safetensors"))
        #expect(a == b, "a killed and resumed run ended with other weights")

        // The exported checkpoint describes images as training validated them.
        let evaluation = try runLandmark(executable, ["evaluate", "--dataset", data.path, "--model",
                                                      temporary.path("straight/final.pth").path, "--size", "96", "--json"])
        #expect(evaluation.status == 0, "\(evaluation.error)")
        let line = try #require(evaluation.output.split(separator: "\n").last)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let mAP = try #require(report["mAP"] as? Double)
        let trained = try #require(records.last?.validationMeanAveragePrecision)
        #expect(abs(mAP - trained) < 0.02, "evaluate --model final.pth gives mAP \(mAP), training measured \(trained)")

        // A folder that is not a run is refused and left as it was.
        let refused = try runLandmark(executable, ["train", data.path, "--out", data.path] + Self.arguments)
        #expect(refused.status == 1)
        #expect(refused.error.contains("not empty"))
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("ground_truth.tsv").path))
    }

    /// --freeze-below B trains every unit above the first B (Lite0: 17 units above the stem), and is
    /// refused beside --trainable-blocks or past the trunk's units.
    @Test func freezeBelowCountsFromTheBottom() throws {
        let executable = try #require(landmarkExecutable, "the landmark executable was not built next to the tests")
        let temporary = try TemporaryDirectory()
        defer { temporary.cleanUp() }
        let data = temporary.path("data")
        _ = try makeSyntheticDataset(in: data, landmarks: 3, views: 3, distractors: 1)
        let common = ["--model", "lite0", "--size", "96", "--validation-size", "96", "--epochs", "0", "--quiet"]
        let run = temporary.path("run")
        let trained = try runLandmark(executable, ["train", data.path, "--out", run.path, "--freeze-below", "15"] + common)
        #expect(trained.status == 0, "\(trained.error)")
        let progress = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("progress.json")))
            as? [String: Any])
        let settings = try #require(progress["configuration"] as? [String: Any])
        #expect(settings["trainableBlocks"] as? Int == 2)
        let both = try runLandmark(executable, ["train", data.path, "--out", temporary.path("b").path, "--freeze-below", "3",
                                                "--trainable-blocks", "2"] + common)
        #expect(both.status != 0)
        let past = try runLandmark(executable, ["train", data.path, "--out", temporary.path("c").path, "--freeze-below", "40"] + common)
        #expect(past.status != 0 && past.error.contains("freeze-below"), "\(past.error)")
    }
}
