import ArgumentParser
import Foundation
import LandmarkPipeline
import LandmarkRecognition
import LandmarkService
import Logging

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve an index over HTTP: a JSON API (search, recognize, verify, images, index changes) and a web page.",
        discussion: """
        Open http://HOST:PORT/ in a browser for the page; the API is described at /openapi.json. Examples:
          curl --data-binary @photo.jpg -H 'Content-Type: image/jpeg' 'http://127.0.0.1:8080/v1/search?top=5'
          curl -F image=@photo.jpg http://127.0.0.1:8080/v1/recognize        (needs --train-index)
          curl -F first=@a.jpg -F second=@b.jpg http://127.0.0.1:8080/v1/verify
        Requests that decode photographs share --workers workers and a queue of --queue places; beyond that the \
        service answers 503 with Retry-After. SIGINT or SIGTERM stops it after the requests in flight.
        """)

    @Argument(help: "Index directory made by `landmark index`.")
    var indexDirectory: String

    @Option(help: "Interface to listen on (loopback by default; 0.0.0.0 opens the service to the network).")
    var host = "127.0.0.1"

    @Option(parsing: .unconditional, help: "Port to listen on (0: any free port, printed at start).")
    var port = 8080

    @Option(help: "Labelled train index for POST /v1/recognize (and a pipeline's dre stage).")
    var trainIndex: String?

    @Option(help: "Labels of the train index (default: its folder's ground_truth.tsv).")
    var trainLabels: String?

    @Option(help: "Recognition pipeline: global or global,spatial (inlier term).")
    var recognitionPipeline = "global,spatial"

    @Flag(help: "Raw vote scores as recognition confidence (see `landmark recognize --help`).")
    var noCalibration = false

    @OptionGroup(title: "Recognition")
    var recognitionOptions: RecognitionOptions

    @Option(help: "Pipeline for search by photograph, e.g. aqe2 or best (see `landmark evaluate --help`); default: plain search.")
    var pipeline: String?

    @OptionGroup(title: "Approximate search (indexes built with --index IVF…/HNSW…)")
    var searchOptions: SearchParameterOptions

    @Option(parsing: .unconditional, help: "Requests decoding photographs at once.")
    var workers = 2

    @Option(parsing: .unconditional, help: "Requests that may wait for a worker; more are refused with 503.")
    var queue = 16

    @Option(parsing: .unconditional, help: "Seconds a request may wait for a worker before it is refused with 503.")
    var queueTimeout = 30

    @Option(parsing: .unconditional, help: "Largest request body in MB.")
    var maxBody = 32

    @Option(parsing: .unconditional, help: "Largest photograph in megapixels (larger headers are refused before decoding).")
    var maxMegapixels = 50

    @Option(help: "Require this key on /v1 routes (Authorization: Bearer KEY or X-API-Key); also read from LANDMARK_API_KEY.")
    var apiKey: String?

    @Flag(help: "Allow POST /v1/index (saves uploads under the indexed folder's 'uploaded' folder) and DELETE /v1/images/{id}.")
    var allowUpdates = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    @OptionGroup(title: "Vector database (rank through the table `landmark db push` wrote)")
    var database: DatabaseOptions

    func validate() throws {
        guard (0 ... 65535).contains(port) else { throw ValidationError("--port must lie between 0 and 65535") }
        guard workers >= 1, queue >= 0, queueTimeout >= 1 else {
            throw ValidationError("--workers and --queue-timeout must be positive and --queue not negative")
        }
        guard maxBody >= 1, maxBody <= 1024, maxMegapixels >= 1 else {
            throw ValidationError("--max-body must lie between 1 and 1024 MB and --max-megapixels be positive")
        }
        if database.url != nil, allowUpdates {
            throw ValidationError("--database serves a table that --allow-updates would leave behind the index; choose one")
        }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical")
        }
    }

    func run() async throws {
        let start = ContinuousClock.now
        var configuration = ServiceConfiguration()
        configuration.host = host
        configuration.port = port
        configuration.workers = workers
        configuration.queueCapacity = queue
        configuration.queueTimeout = .seconds(queueTimeout)
        configuration.maximumBodyBytes = maxBody << 20
        configuration.maximumPixelCount = maxMegapixels * 1_000_000
        configuration.apiKey = apiKey ?? ProcessInfo.processInfo.environment["LANDMARK_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        configuration.allowsUpdates = allowUpdates
        configuration.searchParameters = searchOptions.parameters
        if let url = database.url { configuration.database = (url, database.table) }

        var recognizer: IndexRecognition?
        var trainSet: TrainSet?
        if let trainIndex {
            let description: PipelineDescription
            do {
                description = try PipelineDescription.parse(recognitionPipeline)
            } catch {
                throw ValidationError("--recognition-pipeline: \(error.reason)")
            }
            recognizer = try recognitionOptions.loadRecognizer(
                trainIndex: trainIndex, labels: trainLabels, pipeline: description, calibrates: !noCalibration, showsProgress: true)
        }
        if let pipeline {
            let description: PipelineDescription
            do {
                description = try PipelineDescription.parse(pipeline)
            } catch {
                throw ValidationError("--pipeline: \(error.reason)")
            }
            configuration.pipeline = description.stages.isEmpty ? nil : description
            if description.needsTrainSet {
                guard let recognizer else { throw ValidationError("pipeline '\(pipeline)' has a dre stage: give --train-index") }
                do {
                    trainSet = try TrainSet.load(index: recognizer.index, labels: recognizer.labels,
                                                 recognition: KNNRecognition(neighbours: recognitionOptions.neighbours, inlierWeight: 0,
                                                                             minimumConfidence: recognitionOptions.minConfidence))
                } catch {
                    throw fail(error)
                }
            }
        }

        var logger = Logger(label: "landmark.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let engine: LandmarkEngine
        do {
            engine = try LandmarkEngine(indexDirectory: URL(fileURLWithPath: indexDirectory), configuration: configuration,
                                        recognizer: recognizer, trainSet: trainSet)
        } catch {
            Console.error("error: \(indexDirectory): \(error.message)")
            throw LandmarkExitCode.failure
        }
        let images = engine.index.store.count
        let host = self.host
        let server = LandmarkServer(engine: engine, logger: logger)
        try await server.run(onServerRunning: { port in
            let seconds = Double((ContinuousClock.now - start).components.attoseconds) / 1e18
                + Double((ContinuousClock.now - start).components.seconds)
            Console.error(String(format: "serving %@ (%d images) on http://%@:%d/ — ready in %.2f s", indexDirectory, images, host, port, seconds))
        })
    }
}
