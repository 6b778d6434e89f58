import ArgumentParser
import Foundation
import LandmarkSpark

/// The options that run a command as a Spark job, shared by `index` and `knn`.
struct SparkOptions: ParsableArguments {
    @Option(name: .customLong("spark-master"), help: ArgumentHelp("Run as a Spark job on this master: local[2], spark://host:7077, yarn, k8s://… Each task runs this `landmark` binary on one part of the work; paths must be the same on every node (a shared file system).", valueName: "url"))
    var master: String?

    @Option(name: .customLong("spark-tasks"), parsing: .unconditional, help: "Parts the work is split into (index shards, kNN row blocks); default about 100 photos a shard, or two blocks per core.")
    var tasks: Int?

    @Option(name: .customLong("spark-submit"), help: "The spark-submit program (default: $LANDMARK_SPARK_SUBMIT, $SPARK_HOME/bin, the PATH, then the PySpark of scripts/services/spark.sh).")
    var submit: String?

    @Option(name: .customLong("spark-conf"), help: ArgumentHelp("A Spark setting passed to spark-submit, e.g. spark.executor.memory=4g; repeatable.", valueName: "key=value"))
    var configuration: [String] = []

    @Option(name: .customLong("spark-rounds"), parsing: .unconditional, help: "Times failed tasks are run again before the job gives up.")
    var rounds: Int = 4

    @Option(name: .customLong("spark-landmark"), help: "Path of the landmark binary on the workers (default: this binary's path).")
    var landmark: String?

    func validate() throws {
        if let tasks, tasks < 1 { throw ValidationError("--spark-tasks must be at least 1") }
        guard rounds >= 1 else { throw ValidationError("--spark-rounds must be at least 1") }
        for setting in configuration where !setting.contains("=") {
            throw ValidationError("--spark-conf takes key=value, not '\(setting)'")
        }
    }

    func cluster(master: String) throws -> SparkCluster {
        var settings: [String: String] = [:]
        for setting in configuration {
            let parts = setting.split(separator: "=", maxSplits: 1)
            settings[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        do {
            return SparkCluster(master: master, submit: try SparkCluster.locateSubmit(submit), configuration: settings, rounds: rounds)
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The binary the tasks run: the one given, else this process's own executable.
    func executable() throws -> URL {
        if let landmark { return URL(fileURLWithPath: landmark).standardizedFileURL }
        guard let own = Bundle.main.executableURL?.resolvingSymlinksInPath() else {
            throw ValidationError("cannot tell where this landmark binary is; give --spark-landmark")
        }
        return own
    }
}

/// `K/N` (part K of N, 0 ≤ K < N), as `--shard` and `--part` take it.
func parsePart(_ text: String?, option: String) throws -> (number: Int, count: Int) {
    let pieces = (text ?? "").split(separator: "/", omittingEmptySubsequences: false)
    guard pieces.count == 2, let number = Int(pieces[0]), let count = Int(pieces[1]), count >= 1, (0 ..< count).contains(number) else {
        throw ValidationError("\(option) must be K/N with 0 ≤ K < N, e.g. 0/4; got '\(text ?? "")'")
    }
    return (number, count)
}
