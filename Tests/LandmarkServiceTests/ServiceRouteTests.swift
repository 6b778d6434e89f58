import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import LandmarkPipeline
@testable import LandmarkService
import LandmarkVectorDatabase
import NIOCore
import Testing

/// Every route and every error it answers, in process through Hummingbird's router test client.
@Suite struct ServiceRouteTests {
    static let jpeg: HTTPFields = [.contentType: "image/jpeg"]

    @Test func healthPageScriptStyleAndDocumentAreServed() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        try await quietServer(engine).application().test(.router) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                let health = try response.decoded(ServiceResponses.Health.self)
                #expect(health.images == fixture.entries.count)
                #expect(health.recognition == false && health.updates == false)
            }
            for (path, type, needle) in [("/", "text/html", "id=\"results\""), ("/app.js", "text/javascript", "/v1/search"),
                                         ("/style.css", "text/css", ".grid"), ("/openapi.json", "application/json", "\"openapi\"")] {
                try await client.execute(uri: path, method: .get) { response in
                    #expect(response.status == .ok, "\(path)")
                    #expect(response.headers[.contentType]?.hasPrefix(type) == true, "\(path)")
                    #expect(String(decoding: response.bytes, as: UTF8.self).contains(needle), "\(path)")
                }
            }
            try await client.execute(uri: "/no/such/route", method: .get) { response in
                #expect(response.status == .notFound)
            }
            // A known path with a method it does not serve: 405 and the methods it does serve.
            try await client.execute(uri: "/v1/search", method: .get) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "POST")
            }
            try await client.execute(uri: "/v1/images/3", method: .put) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == "GET, DELETE")
            }
        }
    }

    /// The service answers exactly what the library (and so `landmark search --json`) answers for the
    /// same photograph, whether the photograph comes as the body or as a multipart field.
    @Test func searchByPhotographMatchesTheLibrary() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        let expected = try RetrievalIndex.open(fixture.index).search(images: [fixture.url(1)], top: 5)[0].get()
        try await quietServer(engine).application().test(.router) { client in
            let byBody = try await client.execute(uri: "/v1/search?top=5", method: .post, headers: Self.jpeg,
                                                  body: ByteBuffer(bytes: try fixture.photo(1))) { response in
                #expect(response.status == .ok)
                return try response.decoded(ServiceResponses.Search.self).results
            }
            #expect(byBody.map(\.image) == expected.map(\.image))
            #expect(byBody.map(\.score) == expected.map(\.score))
            #expect(byBody.allSatisfy { engine.index.store.identifiers[$0.id] == $0.image })
            let form = multipartBody([("image", "query.jpg", try fixture.photo(1))])
            let byForm = try await client.execute(uri: "/v1/search?top=5", method: .post,
                                                  headers: [.contentType: form.contentType], body: form.body) { response in
                #expect(response.status == .ok)
                return try response.decoded(ServiceResponses.Search.self).results
            }
            #expect(byForm == byBody)
            // Default depth.
            try await client.execute(uri: "/v1/search", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(bytes: try fixture.photo(1))) { response in
                let results = try response.decoded(ServiceResponses.Search.self).results
                #expect(results.count == min(10, fixture.entries.count))
            }
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["LANDMARK_TEST_DATABASE_URL"] != nil,
                   "needs PostgreSQL with pgvector: LANDMARK_TEST_DATABASE_URL (scripts/services/postgres.sh, started by the test script)"))
    func searchThroughTheDatabaseRanksLikeTheIndex() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["LANDMARK_TEST_DATABASE_URL"])
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let index = try RetrievalIndex.open(fixture.index)
        _ = try PgVectorTable.write(name: "landmark_test_service", descriptor: index.manifest.descriptor, rows: index.store.rows,
                                    images: index.store.identifiers.map { PgVectorTable.Row(image: $0, label: nil) },
                                    storeChecksum: index.store.fingerprint, method: .exact, url: url)
        let local = try fixture.engine()
        defer { local.close() }
        let remote = try fixture.engine { $0.database = (url, "landmark_test_service") }
        defer { remote.close() }
        #expect(remote.index.vectorIndex is PgVectorIndex)
        let body = try JSONEncoder().encode(["descriptor": index.store.matrix().row(5)])
        var rankings: [[Int?]] = []
        for engine in [local, remote] {
            let ranking = try await quietServer(engine).application().test(.router) { client in
                try await client.execute(uri: "/v1/search?top=5", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(bytes: body)) { response in
                    #expect(response.status == .ok)
                    return try response.decoded(ServiceResponses.Search.self).results.map(\.id)
                }
            }
            rankings.append(ranking)
        }
        #expect(rankings.count == 2 && rankings[0] == rankings[1] && rankings[0].first == 5)
        #expect(throws: ServiceError.self) { try fixture.engine { $0.database = (url, "no_such_table") } }
    }

    @Test func searchByDescriptorFindsTheImageItCameFrom() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        let stored = engine.index.store.matrix().row(3)
        let body = try JSONEncoder().encode(["descriptor": stored])
        try await quietServer(engine).application().test(.router) { client in
            try await client.execute(uri: "/v1/search?top=3", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(bytes: body)) { response in
                #expect(response.status == .ok)
                let results = try response.decoded(ServiceResponses.Search.self).results
                #expect(results.first?.id == 3)
                #expect(results.count == 3)
            }
            for (text, fragment) in [(#"{"descriptor": [1, 2]}"#, "values"), (#"{"vector": []}"#, "expected JSON"),
                                     ("not json", "expected JSON")] {
                try await client.execute(uri: "/v1/search", method: .post, headers: [.contentType: "application/json"],
                                         body: ByteBuffer(string: text)) { response in
                    #expect(response.status == .badRequest, "\(text)")
                    #expect(response.errorMessage?.contains(fragment) == true, "\(text): \(response.errorMessage ?? "")")
                }
            }
        }
    }

    @Test func badSearchRequestsAreRefusedWithReasons() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine { $0.maximumBodyBytes = 64 << 10 }
        defer { engine.close() }
        let photo = try fixture.photo(0)
        // A JPEG signature and then nothing usable: the decoder's reason reaches the client.
        let truncated = Array(photo.prefix(40))
        let cases: [(String, HTTPFields, [UInt8], HTTPResponse.Status, String)] = [
            ("/v1/search", Self.jpeg, Array("hello".utf8), .unsupportedMediaType, "not a JPEG or PNG"),
            ("/v1/search", Self.jpeg, [], .badRequest, "empty"),
            ("/v1/search", [.contentType: "text/plain"], photo, .unsupportedMediaType, "text/plain"),
            ("/v1/search?top=0", Self.jpeg, photo, .badRequest, "top must lie between"),
            ("/v1/search?top=abc", Self.jpeg, photo, .badRequest, "whole number"),
            ("/v1/search?top=100000", Self.jpeg, photo, .badRequest, "top must lie between"),
            ("/v1/search", Self.jpeg, truncated, .unprocessableContent, "cannot be used"),
            ("/v1/search", Self.jpeg, [0xFF, 0xD8, 0xFF] + [UInt8](repeating: 7, count: 70 << 10), .contentTooLarge, "larger than"),
            ("/v1/search", [.contentType: "multipart/form-data; boundary=xyz"], Array("--xyz\r\nbroken".utf8), .badRequest, "multipart"),
            ("/v1/search", [.contentType: "multipart/form-data"], photo, .unsupportedMediaType, "boundary"),
        ]
        try await quietServer(engine).application().test(.router) { client in
            for (uri, headers, body, status, fragment) in cases {
                try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body)) { response in
                    #expect(response.status == status, "\(uri) \(headers): \(response.errorMessage ?? "")")
                    #expect(response.errorMessage?.contains(fragment) == true, "\(uri): \(response.errorMessage ?? "no message")")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                }
            }
        }
    }

    @Test func recognitionNamesTheLandmarkOrSaysItIsOff() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let labelled = try #require(fixture.entries.firstIndex { $0.landmark != nil })
        let on = try fixture.engine(recognition: true)
        defer { on.close() }
        let expected = try on.recognizer?.recognize([fixture.url(labelled)])[0].get()
        try await quietServer(on).application().test(.router) { client in
            try await client.execute(uri: "/v1/recognize", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(bytes: try fixture.photo(labelled))) { response in
                #expect(response.status == .ok)
                let answer = try response.decoded(ServiceResponses.Recognition.self)
                #expect(answer.landmark == expected?.prediction.label)
                #expect(answer.landmark == fixture.entries[labelled].landmark)
                #expect(answer.confidence == expected?.prediction.confidence)
                #expect(answer.neighbours.map(\.image) == expected?.neighbours.map(\.image))
            }
            try await client.execute(uri: "/v1/recognize", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(string: "GIF89a")) { response in
                #expect(response.status == .unsupportedMediaType)
            }
        }
        let off = try fixture.engine()
        defer { off.close() }
        try await quietServer(off).application().test(.router) { client in
            try await client.execute(uri: "/v1/recognize", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(bytes: try fixture.photo(0))) { response in
                #expect(response.status == .notFound)
                #expect(response.errorMessage?.contains("--train-index") == true)
            }
        }
    }

    @Test func verificationMatchesTheLibraryAndDrawsThePicture() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        let a = try fixture.photo(0), b = try fixture.photo(1)
        let verifier = engine.verifier
        let expected = verifier.verify(try verifier.features(of: fixture.url(0)).get().features,
                                       try verifier.features(of: fixture.url(1)).get().features)
        try await quietServer(engine).application().test(.router) { client in
            let pair = multipartBody([("first", "a.jpg", a), ("second", "b.jpg", b)])
            try await client.execute(uri: "/v1/verify", method: .post, headers: [.contentType: pair.contentType],
                                     body: pair.body) { response in
                #expect(response.status == .ok)
                let result = try response.decoded(ServiceResponses.Verification.self)
                #expect(result.inliers == expected.distinctInlierCount)
                #expect(result.matches == expected.matches.count)
                #expect(result.verified == expected.isVerified)
                #expect(result.picture == nil)
            }
            // Against the index's own copy of the first photograph: the picture comes back as a JPEG data URL.
            let single = multipartBody([("image", "a.jpg", a)])
            try await client.execute(uri: "/v1/images/0/verify?picture=true", method: .post,
                                     headers: [.contentType: single.contentType], body: single.body) { response in
                #expect(response.status == .ok)
                let result = try response.decoded(ServiceResponses.Verification.self)
                let picture = try #require(result.picture)
                #expect(picture.hasPrefix("data:image/jpeg;base64,"))
                let jpeg = try #require(Data(base64Encoded: String(picture.dropFirst("data:image/jpeg;base64,".count))))
                #expect(jpeg.starts(with: [0xFF, 0xD8, 0xFF]))
            }
            let errors: [(String, [(field: String, filename: String, bytes: [UInt8])], HTTPResponse.Status, String)] = [
                ("/v1/verify", [("first", "a.jpg", a)], .badRequest, "'second' is missing"),
                ("/v1/images/9999/verify", [("image", "a.jpg", a)], .notFound, "no image 9999"),
                ("/v1/images/x/verify", [("image", "a.jpg", a)], .badRequest, "row number"),
                ("/v1/images/99999999999/verify", [("image", "a.jpg", a)], .badRequest, "row number"),
                ("/v1/verify?picture=maybe", [("first", "a.jpg", a), ("second", "b.jpg", b)], .badRequest, "true or false"),
                ("/v1/verify?picture=", [("first", "a.jpg", a), ("second", "b.jpg", b)], .badRequest, "true or false"),
                ("/v1/verify?picture=1", [("first", "a.jpg", a), ("second", "b.jpg", b)], .badRequest, "true or false"),
                ("/v1/verify", [("other", "a.jpg", a)], .badRequest, "'first' is missing"),
                ("/v1/verify", [("first", "a.jpg", a), ("second", "b.txt", Array("text".utf8))], .unsupportedMediaType, "second"),
            ]
            for (uri, files, status, fragment) in errors {
                let form = multipartBody(files)
                try await client.execute(uri: uri, method: .post, headers: [.contentType: form.contentType], body: form.body) { response in
                    #expect(response.status == status, "\(uri): \(response.errorMessage ?? "")")
                    #expect(response.errorMessage?.contains(fragment) == true, "\(uri): \(response.errorMessage ?? "")")
                }
            }
            try await client.execute(uri: "/v1/verify", method: .post, headers: Self.jpeg, body: ByteBuffer(bytes: a)) { response in
                #expect(response.status == .unsupportedMediaType)
            }
        }
    }

    @Test func imagesAndThumbnailsAreServedFromTheIndexedFolderOnly() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        let identifier = engine.index.store.identifiers[2]
        let original = [UInt8](try Data(contentsOf: fixture.images.appendingPathComponent(identifier)))
        // A file of the index replaced by a link that leaves the indexed folder is refused.
        let outside = fixture.root.appendingPathComponent("secret.jpg")
        try Data(original).write(to: outside)
        let linked = fixture.images.appendingPathComponent(engine.index.store.identifiers[4])
        try FileManager.default.removeItem(at: linked)
        try FileManager.default.createSymbolicLink(at: linked, withDestinationURL: outside)
        try await quietServer(engine).application().test(.router) { client in
            try await client.execute(uri: "/v1/images/2", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "image/jpeg")
                #expect(response.bytes == original)
            }
            try await client.execute(uri: "/v1/images/2/thumbnail", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.bytes.starts(with: [0xFF, 0xD8, 0xFF]))
            }
            for (uri, status) in [("/v1/images/4", HTTPResponse.Status.forbidden), ("/v1/images/4/thumbnail", .forbidden),
                                  ("/v1/images/999", .notFound), ("/v1/images/999/thumbnail", .notFound),
                                  ("/v1/images/-1", .badRequest), ("/v1/images/abc", .badRequest),
                                  ("/v1/images/..%2F..%2Fetc%2Fpasswd", .badRequest)] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == status, "\(uri): \(response.errorMessage ?? "")")
                }
            }
        }
    }

    @Test func indexChangesNeedPermissionAndKeepTheFolderIntact() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let photo = try fixture.photo(0)
        let readOnly = try fixture.engine()
        try await quietServer(readOnly).application().test(.router) { client in
            try await client.execute(uri: "/v1/index?name=new.jpg", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(bytes: photo)) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/v1/images/0", method: .delete) { response in
                #expect(response.status == .forbidden)
            }
        }
        readOnly.close()
        let engine = try fixture.engine { $0.allowsUpdates = true }
        defer { engine.close() }
        let before = engine.index.store.count
        try await quietServer(engine).application().test(.router) { client in
            let added = try await client.execute(uri: "/v1/index?name=new.jpg", method: .post, headers: Self.jpeg,
                                                 body: ByteBuffer(bytes: photo)) { response in
                #expect(response.status == .created, "\(response.errorMessage ?? "")")
                return try response.decoded(ServiceResponses.IndexChange.self)
            }
            #expect(added.image == "uploaded/new.jpg")
            #expect(added.images == before + 1)
            #expect(FileManager.default.contents(atPath: fixture.images.appendingPathComponent("uploaded/new.jpg").path) == Data(photo))
            // The new image is searchable at once, and ranks (with its twin) first for its own photograph.
            try await client.execute(uri: "/v1/search?top=2", method: .post, headers: Self.jpeg, body: ByteBuffer(bytes: photo)) { response in
                let images = try response.decoded(ServiceResponses.Search.self).results.map(\.image)
                #expect(images.contains("uploaded/new.jpg"))
            }
            let form = multipartBody([("image", "second.png", photo)])
            for (uri, headers, body, status) in [
                ("/v1/index?name=new.jpg", Self.jpeg, ByteBuffer(bytes: photo), HTTPResponse.Status.conflict),
                ("/v1/index?name=../escape.jpg", Self.jpeg, ByteBuffer(bytes: photo), .badRequest),
                ("/v1/index?name=.hidden.jpg", Self.jpeg, ByteBuffer(bytes: photo), .badRequest),
                ("/v1/index?name=notes.txt", Self.jpeg, ByteBuffer(bytes: photo), .badRequest),
                ("/v1/index", Self.jpeg, ByteBuffer(bytes: photo), .badRequest),
                ("/v1/index?name=broken.jpg", Self.jpeg, ByteBuffer(bytes: Array(photo.prefix(50))), .unprocessableContent),
                ("/v1/index", [.contentType: form.contentType], form.body, .created),
            ] {
                try await client.execute(uri: uri, method: .post, headers: headers, body: body) { response in
                    #expect(response.status == status, "\(uri): \(response.errorMessage ?? "")")
                }
            }
            // A refused photograph leaves nothing behind.
            #expect(!FileManager.default.fileExists(atPath: fixture.images.appendingPathComponent("uploaded/broken.jpg").path))
            let id = try #require(engine.index.store.identifiers.firstIndex(of: "uploaded/new.jpg"))
            try await client.execute(uri: "/v1/images/\(id)", method: .delete) { response in
                #expect(response.status == .ok)
                let change = try response.decoded(ServiceResponses.IndexChange.self)
                #expect(change.images == before + 1)
            }
            #expect(!engine.index.store.identifiers.contains("uploaded/new.jpg"))
            // The photograph stays in the folder: removing from the index deletes no file.
            #expect(FileManager.default.fileExists(atPath: fixture.images.appendingPathComponent("uploaded/new.jpg").path))
            try await client.execute(uri: "/v1/images/9999", method: .delete) { response in
                #expect(response.status == .notFound)
            }
        }
        #expect(try RetrievalIndex.open(fixture.index).store.count == before + 1)
    }

    @Test func anAPIKeyGuardsTheV1RoutesOnly() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine { $0.apiKey = "s3cret-key" }
        defer { engine.close() }
        let photo = ByteBuffer(bytes: try fixture.photo(0))
        try await quietServer(engine).application().test(.router) { client in
            for headers: HTTPFields in [Self.jpeg, [.contentType: "image/jpeg", .authorization: "Bearer wrong"]] {
                try await client.execute(uri: "/v1/search", method: .post, headers: headers, body: photo) { response in
                    #expect(response.status == .unauthorized)
                }
            }
            var bearer = Self.jpeg
            bearer[.authorization] = "Bearer s3cret-key"
            try await client.execute(uri: "/v1/search", method: .post, headers: bearer, body: photo) { response in
                #expect(response.status == .ok)
            }
            var header = Self.jpeg
            header[try #require(HTTPField.Name("X-API-Key"))] = "s3cret-key"
            try await client.execute(uri: "/v1/search", method: .post, headers: header, body: photo) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/healthz", method: .get) { response in #expect(response.status == .ok) }
        }
    }

    @Test func metricsCountRequestsByRouteAndStatus() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        try await quietServer(engine).application().test(.router) { client in
            try await client.execute(uri: "/v1/search", method: .post, headers: Self.jpeg, body: ByteBuffer(bytes: try fixture.photo(0)))
            try await client.execute(uri: "/v1/search", method: .post, headers: Self.jpeg, body: ByteBuffer(string: "x"))
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                let text = String(decoding: response.bytes, as: UTF8.self)
                #expect(text.contains(#"landmark_http_requests_total{route="/v1/search",method="POST",status="200"} 1"#))
                #expect(text.contains(#"landmark_http_requests_total{route="/v1/search",method="POST",status="415"} 1"#))
                #expect(text.contains("landmark_http_request_duration_seconds_bucket"))
                #expect(text.contains("landmark_queue_waiting 0"))
                #expect(text.contains("landmark_index_images \(fixture.entries.count)"))
            }
        }
    }

    /// One request over a real socket: the server binds, answers and shuts down.
    @Test func liveSearchOverLoopback() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine()
        defer { engine.close() }
        try await quietServer(engine).application().test(.live) { client in
            try await client.execute(uri: "/v1/search?top=3", method: .post, headers: Self.jpeg,
                                     body: ByteBuffer(bytes: try fixture.photo(2))) { response in
                #expect(response.status == .ok)
                let first = try response.decoded(ServiceResponses.Search.self).results.first
                #expect(first?.image == fixture.entries[2].relativePath)
            }
        }
    }
}
