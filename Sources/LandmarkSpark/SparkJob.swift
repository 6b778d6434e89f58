import Foundation
import LandmarkStorage

/// One command line a Spark executor runs: a `landmark` invocation over one part of the work (an index
/// shard, a block of kNN rows), which writes its own output durably and may run twice.
public struct SparkTask: Sendable, Codable, Equatable {
    /// Unique within a job; names the task in progress lines and results.
    public var name: String
    public var argv: [String]
    /// Exit codes that count as done (`landmark index` exits 3 when it skipped unreadable photos).
    public var acceptedExitCodes: [Int32]
    /// Extra environment, on top of the executor's.
    public var env: [String: String]

    public init(name: String, argv: [String], acceptedExitCodes: [Int32] = [0], env: [String: String] = [:]) {
        self.name = name
        self.argv = argv
        self.acceptedExitCodes = acceptedExitCodes
        self.env = env
    }
}

/// How a task ended, as the driver reports it.
public struct SparkTaskResult: Sendable, Codable, Equatable {
    public var name: String
    public var exitCode: Int32
    public var accepted: Bool
    /// The last 4000 characters of the task's output and errors.
    public var stdout: String
    public var stderr: String
    public var seconds: Double
    public var host: String
    /// Times the task ran; more than 1 when it failed and was run again.
    public var attempts: Int
}

/// What a job's driver reported.
public struct SparkJobReport: Sendable, Codable, Equatable {
    /// Rounds of tasks run (1 when none failed).
    public var rounds: Int
    /// Each task's last run, in task order.
    public var results: [SparkTaskResult]
}

/// Where and how `spark-submit` runs a job.
public struct SparkCluster: Sendable, Equatable {
    /// Any Spark master URL: `local[2]`, `spark://host:7077`, `yarn`, `k8s://…`.
    public var master: String
    /// The `spark-submit` program.
    public var submit: URL
    /// `--conf key=value` settings passed through (executor memory, cores, …).
    public var configuration: [String: String]
    /// Rounds of running the failed tasks again before the job gives up.
    public var rounds: Int

    public init(master: String, submit: URL, configuration: [String: String] = [:], rounds: Int = 4) {
        self.master = master
        self.submit = submit
        self.configuration = configuration
        self.rounds = rounds
    }

    /// The environment variable that names `spark-submit` for every command.
    public static let submitEnvironmentVariable = "LANDMARK_SPARK_SUBMIT"

    /// Finds `spark-submit`: the given path, `$LANDMARK_SPARK_SUBMIT`, `$SPARK_HOME/bin/spark-submit`,
    /// the `PATH`, then the private PySpark that `scripts/services/spark.sh` installs.
    /// - Throws: `SparkError.noSparkSubmit` listing where it looked.
    public static func locateSubmit(_ given: String?) throws(SparkError) -> URL {
        if let given {
            // A path the user gave is the one meant: no fallback to another Spark.
            guard FileManager.default.isExecutableFile(atPath: given) else { throw SparkError.noSparkSubmit(looked: [given]) }
            return URL(fileURLWithPath: given)
        }
        let environment = ProcessInfo.processInfo.environment
        var candidates: [String] = []
        if let named = environment[submitEnvironmentVariable], !named.isEmpty { candidates.append(named) }
        if let home = environment["SPARK_HOME"], !home.isEmpty { candidates.append(home + "/bin/spark-submit") }
        for folder in (environment["PATH"] ?? "").split(separator: ":") { candidates.append(folder + "/spark-submit") }
        let cache = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? ((environment["HOME"] ?? NSHomeDirectory()) + "/.cache")
        candidates.append(cache + "/landmark/spark-venv/bin/spark-submit")
        if let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) {
            return URL(fileURLWithPath: found)
        }
        throw SparkError.noSparkSubmit(looked: candidates)
    }
}

/// A distributed job failed; the message says what to do.
public enum SparkError: Error, Sendable, CustomStringConvertible, Equatable {
    case noSparkSubmit(looked: [String])
    case cannotStart(String)
    case driverFailed(exitCode: Int32, log: String)
    case tasksFailed([SparkTaskResult])
    case io(file: String, reason: String)

    public var description: String {
        switch self {
        case .noSparkSubmit(let looked):
            return "spark-submit not found (looked at \(looked.prefix(6).joined(separator: ", "))\(looked.count > 6 ? ", …" : "")); "
                + "install Spark or run scripts/services/spark.sh, or give --spark-submit"
        case .cannotStart(let reason):
            return "cannot start spark-submit: \(reason)"
        case .driverFailed(let code, let log):
            return "spark-submit exited with \(code) before running the tasks; its log is \(log)"
        case .tasksFailed(let results):
            let first = results[0]
            let detail = first.stderr.split(separator: "\n").last(where: { !$0.isEmpty }).map(String.init) ?? "no message"
            return "\(results.count) task(s) still failed after every retry; \(first.name) exited with \(first.exitCode) on \(first.host): \(detail)"
        case .io(let file, let reason):
            return "\(file): \(reason)"
        }
    }
}

/// Runs a list of tasks on a Spark cluster through `spark-submit` and the driver program the job
/// writes into its work folder (`SparkDriverScript`).
public struct SparkJob: Sendable {
    public var name: String
    public var tasks: [SparkTask]

    public init(name: String, tasks: [SparkTask]) {
        self.name = name
        self.tasks = tasks
    }

    static let planFileName = "spark-plan.json"
    static let resultFileName = "spark-result.json"
    static let logFileName = "spark.log"
    /// The files `run` writes into its work folder.
    static let ownFileNames: Set<String> = [planFileName, resultFileName, logFileName, SparkDriverScript.fileName]

    private struct Plan: Codable {
        var name: String
        var tasks: [SparkTask]
        var rounds: Int
    }

    /// Runs every task, retrying failed ones, and returns the driver's report.
    /// - Parameters:
    ///   - workFolder: where the plan, the driver and `spark.log` go; must exist and be on storage the
    ///     driver can write.
    ///   - output: the driver's progress lines (one per finished task), as they come.
    /// - Throws: `SparkError.tasksFailed` when tasks still failed after the last round.
    public func run(on cluster: SparkCluster, workFolder: URL,
                    output: @escaping @Sendable (String) -> Void) throws(SparkError) -> SparkJobReport {
        let planURL = workFolder.appendingPathComponent(Self.planFileName)
        let driverURL = workFolder.appendingPathComponent(SparkDriverScript.fileName)
        let resultURL = workFolder.appendingPathComponent(Self.resultFileName)
        let logURL = workFolder.appendingPathComponent(Self.logFileName)
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try DurableFile.write(try encoder.encode(Plan(name: name, tasks: tasks, rounds: cluster.rounds)), to: planURL)
            try DurableFile.write(Data(SparkDriverScript.source.utf8), to: driverURL)
            try? FileManager.default.removeItem(at: resultURL)
        } catch {
            throw SparkError.io(file: workFolder.path, reason: "cannot write the job's plan: \(error)")
        }

        let process = Process()
        process.executableURL = cluster.submit
        var arguments = ["--master", cluster.master, "--name", name]
        for (key, value) in cluster.configuration.sorted(by: { $0.key < $1.key }) {
            arguments += ["--conf", "\(key)=\(value)"]
        }
        arguments += [driverURL.path, planURL.path, resultURL.path]
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        // A PySpark installed in a virtual environment runs its driver and workers with that
        // environment's Python, which has the matching pyspark; any other `python3` may not.
        let venvPython = cluster.submit.deletingLastPathComponent().appendingPathComponent("python3").path
        if environment["PYSPARK_PYTHON"] == nil, FileManager.default.isExecutableFile(atPath: venvPython) {
            environment["PYSPARK_PYTHON"] = venvPython
            environment["PYSPARK_DRIVER_PYTHON"] = venvPython
        }
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        guard FileManager.default.createFile(atPath: logURL.path, contents: nil),
              let log = try? FileHandle(forWritingTo: logURL) else {
            throw SparkError.io(file: logURL.path, reason: "cannot create the Spark log")
        }
        defer { try? log.close() }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = log
        do {
            try process.run()
        } catch {
            throw SparkError.cannotStart("\(cluster.submit.path): \(error.localizedDescription)")
        }
        // The driver prints one line per finished task; pass those on, keep the rest in the log.
        var pending = Data()
        let reader = pipe.fileHandleForReading
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            log.write(chunk)
            pending.append(chunk)
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: pending[pending.startIndex ..< newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex ... newline)
                if line.hasPrefix("spark: ") { output(line) }
            }
        }
        process.waitUntilExit()

        guard let data = try? Data(contentsOf: resultURL), let report = try? JSONDecoder().decode(SparkJobReport.self, from: data) else {
            throw SparkError.driverFailed(exitCode: process.terminationStatus, log: logURL.path)
        }
        let failed = report.results.filter { !$0.accepted }
        guard failed.isEmpty else { throw SparkError.tasksFailed(failed) }
        return report
    }
}
