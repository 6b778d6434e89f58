import Foundation
import Hummingbird

/// A request the service refuses or cannot answer, with the HTTP status a client acts on.
///
/// Every error the routes produce is one of these, so every error response has the same JSON shape,
/// `{"error": "…"}`, which the OpenAPI document names `Error`.
public struct ServiceError: Error, Sendable, Equatable, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    /// Seconds after which a refused request may be retried (503 when the work queue is full).
    public var retryAfterSeconds: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        Self.response(status: status, message: message, retryAfterSeconds: retryAfterSeconds)
    }

    static func response(status: HTTPResponse.Status, message: String, retryAfterSeconds: Int? = nil) -> Response {
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data(#"{"error":"internal error"}"#.utf8)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func badRequest(_ message: String) -> ServiceError { ServiceError(.badRequest, message) }
    static func notFound(_ message: String) -> ServiceError { ServiceError(.notFound, message) }
    static func unprocessable(_ message: String) -> ServiceError { ServiceError(.unprocessableContent, message) }
}
