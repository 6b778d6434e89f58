import Foundation
import HTTPTypes
@testable import LandmarkService
import Testing

/// The OpenAPI document, the multipart reader and the work queue, on their own.
@Suite struct ServiceContractTests {
    static var document: [String: Any] {
        get throws {
            let folder = try #require(WebAssets.resourceFolder(), "the service's resources are missing from the build")
            let data = try Data(contentsOf: folder.appendingPathComponent("openapi.json"))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
    }

    /// Every route the router serves is documented, and the document lists nothing else.
    @Test func openAPIDocumentListsExactlyTheServedRoutes() throws {
        let paths = try #require(try Self.document["paths"] as? [String: [String: Any]])
        var documented: Set<ServiceRoutes.Route> = []
        for (path, operations) in paths {
            for method in operations.keys {
                documented.insert(ServiceRoutes.Route(method: try #require(HTTPRequest.Method(method.uppercased())), path: path))
            }
        }
        #expect(documented == Set(ServiceRoutes.all))
    }

    /// The schemas name exactly the keys the service's JSON bodies carry.
    @Test func openAPISchemasMatchTheResponseTypes() throws {
        let schemas = try #require((try Self.document["components"] as? [String: Any])?["schemas"] as? [String: [String: Any]])
        func keys(_ schema: String) -> Set<String> {
            Set((schemas[schema]?["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
        }
        func encodedKeys(_ value: some Encodable) throws -> Set<String> {
            let object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any]
            return Set(object?.keys.map { $0 } ?? [])
        }
        #expect(try encodedKeys(ServiceResponses.Hit(image: "a.jpg", score: 1, id: 0)) == keys("Hit"))
        #expect(try encodedKeys(ServiceResponses.Search(results: [])) == keys("Search"))
        #expect(try encodedKeys(ServiceResponses.Recognition(landmark: "x", confidence: 1, scores: [], neighbours: [])) == keys("Recognition"))
        #expect(try encodedKeys(ServiceResponses.Neighbour(image: "a", label: "b", similarity: 1, inliers: 3)) == keys("Neighbour"))
        #expect(try encodedKeys(ServiceResponses.Verification(featuresFirst: 1, featuresSecond: 1, matches: 1, inliers: 1, verified: true,
                                                               model: "homography", reason: "r", picture: "p")) == keys("Verification"))
        #expect(try encodedKeys(ServiceResponses.IndexChange(image: "a", id: 1, images: 2)) == keys("IndexChange"))
        #expect(try encodedKeys(ServiceResponses.Health(status: "ok", images: 1, descriptor: "d", dimension: 1, recognition: true,
                                                         updates: false)) == keys("Health"))
        #expect(keys("Error") == ["error"])
    }

    @Test func multipartFormsAreReadAndBrokenOnesRefused() throws {
        let body = Array("preamble\r\n--b0und\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.jpg\"\r\nContent-Type: image/jpeg\r\n\r\nJPEG\r\nDATA\r\n--b0und\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--b0und--\r\n".utf8)
        let form = try MultipartForm(body: body, boundary: "b0und")
        #expect(form.parts.count == 2)
        #expect(form.part(named: "image")?.filename == "a.jpg")
        #expect(form.part(named: "image")?.body == Array("JPEG\r\nDATA".utf8))
        #expect(form.part(named: "note")?.body == Array("hello".utf8))
        #expect(MultipartForm.boundary(ofContentType: "multipart/form-data; boundary=\"quoted b\"") == "quoted b")
        #expect(MultipartForm.boundary(ofContentType: "image/jpeg") == nil)
        let broken: [String] = [
            "", "--b0und", "--b0und\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nno end",
            "--b0und\r\nno blank line", "--b0und\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0und--",
            "--b0undXX", "\r\n--b0und\r\n\r\n\r\n--b0und--",
        ]
        for text in broken {
            #expect(throws: ServiceError.self, "\(text.debugDescription)") { try MultipartForm(body: Array(text.utf8), boundary: "b0und") }
        }
        // Every prefix of a valid body either parses or is refused; none crashes.
        for length in 0 ..< body.count {
            _ = try? MultipartForm(body: Array(body.prefix(length)), boundary: "b0und")
        }
    }

    /// With every worker busy and no room to wait, a request is refused at once with 503 and a
    /// Retry-After; with room, it waits and then runs; past the timeout it is refused too.
    @Test func theWorkQueueRefusesWhenFullAndTimesOutWaiters() async throws {
        let queue = WorkQueue(workers: 1, capacity: 1, timeout: .milliseconds(300))
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let blocking = Task { try await queue.run { started.signal(); release.wait(); return 1 } }
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async { started.wait(); continuation.resume() }
        }
        let waiting = Task { try await queue.run { 2 } }
        while await queue.depth.waiting == 0 { try await Task.sleep(for: .milliseconds(5)) }
        do {
            _ = try await queue.run { 3 }
            Issue.record("a full queue accepted a request")
        } catch let error as ServiceError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.retryAfterSeconds != nil)
        }
        // The waiter gives up after the timeout, while the worker is still busy.
        do {
            _ = try await waiting.value
            Issue.record("a waiter outlived the queue timeout")
        } catch let error as ServiceError {
            #expect(error.status == .serviceUnavailable)
            #expect(error.message.contains("waited longer"))
        }
        release.signal()
        #expect(try await blocking.value == 1)
        #expect(try await queue.run { 4 } == 4)
        #expect(await queue.depth.running == 0)
    }
}
