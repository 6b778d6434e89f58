import Foundation
import Hummingbird
import HummingbirdTesting
import LandmarkDemo
import LandmarkDescriptors
import LandmarkPipeline
import LandmarkRecognition
import LandmarkService
import Logging
import NIOCore

/// A synthetic landmark folder (real JPEG files) indexed with the colour-histogram baseline, which
/// needs no weights, so that the route tests always run.
struct ServiceFixture {
    let root: URL
    let images: URL
    let index: URL
    let entries: [SyntheticLandmarkDataset.Entry]

    init(_ label: String = #function, extractor: (any GlobalDescriptorExtractor)? = nil) throws {
        let name = "landmark-service-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8))"
        root = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        images = root.appendingPathComponent("images")
        index = root.appendingPathComponent("index")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        entries = try SyntheticLandmarkDataset(configuration: .init(
            landmarkCount: 3, viewsPerLandmark: 3, distractorCount: 2, width: 200, height: 150, seed: 11)).write(to: images)
        _ = try IndexBuilder.build(images: images, index: index, extractor: extractor ?? GradientColourHistogramBaseline())
    }

    func cleanUp() { try? FileManager.default.removeItem(at: root) }

    func photo(_ position: Int = 0) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: images.appendingPathComponent(entries[position].relativePath)))
    }

    func url(_ position: Int) -> URL { images.appendingPathComponent(entries[position].relativePath) }

    func recognizer() throws -> IndexRecognition {
        let index = try RetrievalIndex.open(index)
        let labels = try LandmarkLabels.load(images.appendingPathComponent("ground_truth.tsv").path)
        return IndexRecognition(index: index, labels: labels)
    }

    func engine(_ configure: (inout ServiceConfiguration) -> Void = { _ in }, recognition: Bool = false) throws -> LandmarkEngine {
        var configuration = ServiceConfiguration()
        configuration.port = 0
        configure(&configuration)
        return try LandmarkEngine(indexDirectory: index, configuration: configuration,
                                  recognizer: recognition ? try recognizer() : nil)
    }
}

/// A server over `engine` whose logs are dropped (tests check responses, not log lines).
func quietServer(_ engine: LandmarkEngine) -> LandmarkServer {
    var logger = Logger(label: "landmark.serve.test")
    logger.logLevel = .critical
    return LandmarkServer(engine: engine, logger: logger)
}

/// A multipart/form-data body with one file per field.
func multipartBody(_ files: [(field: String, filename: String, bytes: [UInt8])], boundary: String = "test-boundary-7MA4YWxk")
    -> (body: ByteBuffer, contentType: String) {
    var body: [UInt8] = []
    for file in files {
        body += Array("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.filename)\"\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
        body += file.bytes
        body += Array("\r\n".utf8)
    }
    body += Array("--\(boundary)--\r\n".utf8)
    return (ByteBuffer(bytes: body), "multipart/form-data; boundary=\(boundary)")
}

extension TestResponse {
    var bytes: [UInt8] { Array(body.readableBytesView) }

    func decoded<Value: Decodable>(_ type: Value.Type) throws -> Value {
        try JSONDecoder().decode(type, from: Data(bytes))
    }

    /// The `error` message of an error response.
    var errorMessage: String? {
        (try? JSONDecoder().decode([String: String].self, from: Data(bytes)))?["error"]
    }
}

/// Runs `body` with the server listening on a free loopback port, then stops it gracefully.
func withLiveServer<Value: Sendable>(_ engine: LandmarkEngine, _ body: @Sendable (Int) async throws -> Value) async throws -> Value {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    let server = quietServer(engine)
    let serving = Task { try await server.application(onServerRunning: { port in continuation.yield(port) }).runService(gracefulShutdownSignals: []) }
    defer { serving.cancel() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw CancellationError() }
    let value = try await body(port)
    serving.cancel()
    _ = await serving.result
    return value
}
