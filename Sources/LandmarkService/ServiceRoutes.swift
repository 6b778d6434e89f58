import Foundation
import HTTPTypes
import Hummingbird
import LandmarkImage
import Logging
import NIOCore

/// The HTTP routes of `landmark serve`, on a Hummingbird router.
///
/// Every route is listed in `ServiceRoutes.all` with the method and path `openapi.json` documents,
/// and a test checks the two agree. Heavy work (anything that decodes a photograph) goes through the
/// `WorkQueue`; everything else answers on the event loop.
public struct ServiceRoutes: Sendable {
    public struct Route: Sendable, Hashable {
        public var method: HTTPRequest.Method
        public var path: String
    }

    /// What the service serves, by method and path (OpenAPI's path templates).
    public static let all: [Route] = [
        Route(method: .get, path: "/"),
        Route(method: .get, path: "/app.js"),
        Route(method: .get, path: "/style.css"),
        Route(method: .get, path: "/openapi.json"),
        Route(method: .get, path: "/healthz"),
        Route(method: .get, path: "/metrics"),
        Route(method: .post, path: "/v1/search"),
        Route(method: .post, path: "/v1/recognize"),
        Route(method: .post, path: "/v1/verify"),
        Route(method: .post, path: "/v1/images/{id}/verify"),
        Route(method: .get, path: "/v1/images/{id}"),
        Route(method: .delete, path: "/v1/images/{id}"),
        Route(method: .get, path: "/v1/images/{id}/thumbnail"),
        Route(method: .post, path: "/v1/index"),
    ]

    let engine: LandmarkEngine
    let queue: WorkQueue
    let metrics: ServiceMetrics
    let web: WebAssets
    let logger: Logger

    public init(engine: LandmarkEngine, metrics: ServiceMetrics, logger: Logger) {
        self.engine = engine
        self.metrics = metrics
        self.logger = logger
        let configuration = engine.configuration
        queue = WorkQueue(workers: configuration.workers, capacity: configuration.queueCapacity,
                          timeout: configuration.queueTimeout,
                          depthChanged: { [metrics] running, waiting in metrics.queueDepth(running: running, waiting: waiting) })
        web = WebAssets.load()
        metrics.indexSize(engine.index.store.count)
    }

    /// A router with every route, the metrics and logging middleware, and the API key check.
    public func router() -> Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.add(middleware: RequestRecorder(metrics: metrics, logger: logger))
        router.add(middleware: MethodCheck())
        router.add(middleware: APIKeyCheck(key: engine.configuration.apiKey))
        let configuration = engine.configuration

        router.get("/") { _, _ in try web.response("index.html", type: "text/html; charset=utf-8") }
        router.get("/app.js") { _, _ in try web.response("app.js", type: "text/javascript; charset=utf-8") }
        router.get("/style.css") { _, _ in try web.response("style.css", type: "text/css; charset=utf-8") }
        router.get("/openapi.json") { _, _ in try web.response("openapi.json", type: "application/json") }
        router.get("/healthz") { _, _ in try Self.json(engine.health) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition())))
        }

        router.post("/v1/search") { request, _ in
            let top = try Self.integer(request, "top", default: configuration.defaultTop, in: 1 ... configuration.maximumTop)
            let body = try await Self.body(request, limit: configuration.maximumBodyBytes)
            if Self.mediaType(request) == "application/json" {
                let descriptor = try Self.descriptor(body)
                return try Self.json(try await queue.run { try engine.search(descriptor: descriptor, top: top) })
            }
            let photo = try Self.photo(request, body: body, field: "image")
            return try Self.json(try await queue.run { try engine.search(photo: photo, top: top) })
        }
        router.post("/v1/recognize") { request, _ in
            guard engine.recognizer != nil else {
                throw ServiceError.notFound("recognition is off: start the service with --train-index (a labelled index)")
            }
            let body = try await Self.body(request, limit: configuration.maximumBodyBytes)
            let photo = try Self.photo(request, body: body, field: "image")
            return try Self.json(try await queue.run { try engine.recognize(photo: photo) })
        }
        router.post("/v1/verify") { request, _ in
            let picture = try Self.flag(request, "picture")
            let body = try await Self.body(request, limit: configuration.maximumBodyBytes)
            let form = try Self.form(request, body: body)
            let first = try Self.photo(in: form, field: "first")
            let second = try Self.photo(in: form, field: "second")
            return try Self.json(try await queue.run {
                try engine.verify(first: first, second: second, picture: picture)
            })
        }
        router.post("/v1/images/{id}/verify") { request, context in
            let id = try Self.pathID(context)
            let picture = try Self.flag(request, "picture")
            let body = try await Self.body(request, limit: configuration.maximumBodyBytes)
            let photo = try Self.photo(request, body: body, field: "image")
            return try Self.json(try await queue.run {
                try engine.verify(photo: photo, againstImage: id, picture: picture)
            })
        }
        router.get("/v1/images/{id}") { request, context in
            let id = try Self.pathID(context)
            let image = try engine.image(id: id)
            return Response(status: .ok, headers: [.contentType: image.mediaType, .cacheControl: "private, max-age=60"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: image.bytes)))
        }
        router.get("/v1/images/{id}/thumbnail") { request, context in
            let id = try Self.pathID(context)
            let bytes = try await queue.run { try engine.thumbnail(id: id) }
            return Response(status: .ok, headers: [.contentType: "image/jpeg", .cacheControl: "private, max-age=60"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        router.delete("/v1/images/{id}") { request, context in
            let id = try Self.pathID(context)
            let change = try await queue.run { try engine.remove(id: id) }
            metrics.indexSize(change.images)
            return try Self.json(change)
        }
        router.post("/v1/index") { request, _ in
            guard configuration.allowsUpdates else {
                throw ServiceError(.forbidden, "changes are off: start the service with --allow-updates")
            }
            let body = try await Self.body(request, limit: configuration.maximumBodyBytes)
            var name = request.uri.queryParameters.get("name")
            let photo: [UInt8]
            if MultipartForm.boundary(ofContentType: request.headers[.contentType] ?? "") != nil {
                let form = try Self.form(request, body: body)
                guard let part = form.part(named: "image") else { throw ServiceError.badRequest("multipart field 'image' is missing") }
                photo = try Self.checkedPhoto(part.body, what: "field 'image'")
                name = name ?? part.filename
            } else {
                photo = try Self.photo(request, body: body, field: "image")
            }
            guard let name else { throw ServiceError.badRequest("name the photograph: ?name=FILE.jpg or a multipart filename") }
            let change = try await queue.run { try engine.add(photo: photo, name: name) }
            metrics.indexSize(change.images)
            return try Self.json(change, status: .created)
        }
        return router
    }

    // MARK: Reading requests

    static func body(_ request: Request, limit: Int) async throws(ServiceError) -> [UInt8] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw ServiceError(.contentTooLarge, "the request body is larger than \(limit) bytes")
        } catch {
            throw ServiceError.badRequest("the request body cannot be read: \(error)")
        }
        return Array(buffer.readableBytesView)
    }

    static func mediaType(_ request: Request) -> String {
        (request.headers[.contentType] ?? "").split(separator: ";").first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
    }

    static func form(_ request: Request, body: [UInt8]) throws(ServiceError) -> MultipartForm {
        guard let boundary = MultipartForm.boundary(ofContentType: request.headers[.contentType] ?? "") else {
            throw ServiceError(.unsupportedMediaType, "send multipart/form-data with a boundary")
        }
        return try MultipartForm(body: body, boundary: boundary)
    }

    /// The photograph of a request: the body itself (image/jpeg, image/png, application/octet-stream)
    /// or the multipart field `field`.
    static func photo(_ request: Request, body: [UInt8], field: String) throws(ServiceError) -> [UInt8] {
        switch mediaType(request) {
        case "image/jpeg", "image/png", "application/octet-stream", "":
            return try checkedPhoto(body, what: "the request body")
        case "multipart/form-data":
            return try photo(in: try Self.form(request, body: body), field: field)
        case let other:
            throw ServiceError(.unsupportedMediaType, "\(other) is not accepted: send image/jpeg, image/png or multipart/form-data")
        }
    }

    /// The photograph in multipart field `field`.
    static func photo(in form: MultipartForm, field: String) throws(ServiceError) -> [UInt8] {
        guard let part = form.part(named: field) else { throw ServiceError.badRequest("multipart field '\(field)' is missing") }
        return try checkedPhoto(part.body, what: "field '\(field)'")
    }

    /// Refuses bodies that are not JPEG or PNG before they reach a worker.
    static func checkedPhoto(_ bytes: [UInt8], what: String) throws(ServiceError) -> [UInt8] {
        guard !bytes.isEmpty else { throw ServiceError.badRequest("\(what) is empty: send a JPEG or PNG photograph") }
        guard ImageDecoder.mediaType(of: bytes) != nil else {
            throw ServiceError(.unsupportedMediaType, "\(what) is not a JPEG or PNG image")
        }
        return bytes
    }

    struct DescriptorQuery: Decodable { var descriptor: [Float] }

    static func descriptor(_ body: [UInt8]) throws(ServiceError) -> [Float] {
        do {
            return try JSONDecoder().decode(DescriptorQuery.self, from: Data(body)).descriptor
        } catch {
            throw ServiceError.badRequest("expected JSON {\"descriptor\": [numbers]}")
        }
    }

    static func integer(_ request: Request, _ name: String, default value: Int, in range: ClosedRange<Int>) throws(ServiceError) -> Int {
        guard let given = try optionalInteger(request, name) else { return value }
        guard range.contains(given) else {
            throw ServiceError.badRequest("\(name) must lie between \(range.lowerBound) and \(range.upperBound)")
        }
        return given
    }

    static func optionalInteger(_ request: Request, _ name: String) throws(ServiceError) -> Int? {
        guard let text = request.uri.queryParameters.get(name) else { return nil }
        guard let value = Int(text) else { throw ServiceError.badRequest("\(name) must be a whole number, not '\(text)'") }
        return value
    }

    /// Only the two spellings the OpenAPI document's `boolean` allows: a client that sends `picture=` or
    /// `picture=1` meant something, and guessing which is how a contract drifts.
    static func flag(_ request: Request, _ name: String) throws(ServiceError) -> Bool {
        switch request.uri.queryParameters.get(name) {
        case nil, "false": return false
        case "true": return true
        case let other?: throw ServiceError.badRequest("\(name) must be true or false, not '\(other)'")
        }
    }

    static func pathID(_ context: BasicRequestContext) throws(ServiceError) -> Int {
        guard let text = context.parameters.get("id") else { throw ServiceError.badRequest("the image id is missing") }
        guard let id = Int(text), id >= 0, id <= Int(Int32.max) else {
            throw ServiceError.badRequest("the image id must be a row number, not '\(text)'")
        }
        return id
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Counts and times every request, and logs one structured line per request.
struct RequestRecorder: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ServiceMetrics
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: Int
        let response: Response
        do {
            response = try await next(request, context)
            status = Int(response.status.code)
        } catch let error as ServiceError {
            record(request, context, status: Int(error.status.code), since: start)
            throw error
        } catch let error as any HTTPResponseError {
            record(request, context, status: Int(error.status.code), since: start)
            throw error
        } catch {
            // Anything else is a bug: answer 500 with a message, never a dropped connection.
            record(request, context, status: 500, since: start)
            logger.error("internal error", metadata: ["path": "\(request.uri.path)", "error": "\(error)"])
            throw ServiceError(.internalServerError, "internal error: \(error)")
        }
        record(request, context, status: status, since: start)
        return response
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        let duration = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.request(route: route, method: request.method.rawValue, status: status, duration: duration)
        let milliseconds = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        logger.info("request", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "route": "\(route)",
            "status": "\(status)", "ms": "\(String(format: "%.1f", milliseconds))",
        ])
    }
}

/// A known path asked with a method it does not serve answers 405 with the methods it does serve in
/// `Allow` (the router alone would say 404, as for a path that does not exist).
struct MethodCheck: RouterMiddleware {
    typealias Context = BasicRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let allowed = Self.methods(forPath: request.uri.path)
        guard !allowed.isEmpty, !allowed.contains(request.method),
              !(request.method == .head && allowed.contains(.get)) else {
            return try await next(request, context)
        }
        var response = ServiceError.response(status: .methodNotAllowed,
                                              message: "\(request.method.rawValue) is not served here; use \(allowed.map(\.rawValue).joined(separator: " or "))")
        response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return response
    }

    /// The methods of the routes whose template matches `path` ("{id}" matches one segment).
    static func methods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        return ServiceRoutes.all.filter { route in
            let template = route.path.split(separator: "/", omittingEmptySubsequences: false)
            return template.count == segments.count
                && zip(template, segments).allSatisfy { $0 == $1 || ($0.hasPrefix("{") && $0.hasSuffix("}") && !$1.isEmpty) }
        }.map(\.method)
    }
}

/// With a key configured, `/v1` routes need it as `Authorization: Bearer KEY` or `X-API-Key: KEY`.
struct APIKeyCheck: RouterMiddleware {
    typealias Context = BasicRequestContext
    let key: String?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key, request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        let bearer = request.headers[.authorization].flatMap { value -> String? in
            value.lowercased().hasPrefix("bearer ") ? String(value.dropFirst(7)) : nil
        }
        let given = bearer ?? Self.keyField.flatMap { request.headers[$0] }
        guard let given, Self.constantTimeEqual(given, key) else {
            throw ServiceError(.unauthorized, "this service needs an API key: Authorization: Bearer KEY or X-API-Key: KEY")
        }
        return try await next(request, context)
    }

    static let keyField = HTTPField.Name("X-API-Key")

    /// Compares without stopping at the first difference, so timing does not reveal the key.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0 ..< max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
