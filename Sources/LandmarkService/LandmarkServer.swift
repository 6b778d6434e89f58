import Foundation
import Hummingbird
import Logging
import NIOCore

/// `landmark serve`: the engine behind Hummingbird's HTTP/1.1 server.
public struct LandmarkServer: Sendable {
    public let engine: LandmarkEngine
    public let metrics: ServiceMetrics
    public let logger: Logger

    public init(engine: LandmarkEngine, logger: Logger = Logger(label: "landmark.serve")) {
        self.engine = engine
        self.metrics = ServiceMetrics()
        self.logger = logger
    }

    /// The application, ready to run or to test; `onServerRunning` learns the bound port.
    public func application(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol {
        let configuration = engine.configuration
        let routes = ServiceRoutes(engine: engine, metrics: metrics, logger: logger)
        let idleTimeout = TimeAmount.nanoseconds(
            configuration.idleTimeout.components.seconds * 1_000_000_000 + configuration.idleTimeout.components.attoseconds / 1_000_000_000)
        return Application(
            router: routes.router(),
            server: .http1(configuration: .init(idleTimeout: idleTimeout)),
            configuration: ApplicationConfiguration(address: .hostname(configuration.host, port: configuration.port),
                                                    serverName: "landmark"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }

    /// Serves until SIGTERM or SIGINT, then finishes the requests in flight and removes the upload folder.
    public func run(onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        defer { engine.close() }
        try await application(onServerRunning: onServerRunning).runService()
    }
}
