import Foundation
import LandmarkPipeline
@testable import LandmarkService
import Testing

/// The web page in a real browser: headless Chromium loads it, a photograph goes in through the file
/// picker, and the results grid must show what the API answers. Screenshots (desktop and phone width)
/// are kept in `LANDMARK_SCREENSHOTS` when set, else in a temporary folder.
@Suite struct ServiceBrowserTests {
    static let python = "/usr/bin/python3"
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/browser_test.py")

    /// Debian's chromium, chromium-driver and python3-selenium, which `scripts/test.sh` installs.
    static var browserAvailable: Bool {
        let fileManager = FileManager.default
        guard fileManager.isExecutableFile(atPath: "/usr/bin/chromium"), fileManager.isExecutableFile(atPath: "/usr/bin/chromedriver"),
              fileManager.isExecutableFile(atPath: python) else { return false }
        return fileManager.fileExists(atPath: "/usr/lib/python3/dist-packages/selenium")
    }

    @Test(.enabled(if: browserAvailable, "needs Debian's chromium, chromium-driver and python3-selenium (scripts/test.sh installs them)"))
    func thePageShowsTheRankedResultsAndTheMatchPicture() async throws {
        let fixture = try ServiceFixture()
        defer { fixture.cleanUp() }
        let engine = try fixture.engine(recognition: true)
        defer { engine.close() }
        let query = try #require(fixture.entries.firstIndex { $0.landmark != nil })
        let expected = try engine.search(photo: try fixture.photo(query), top: 24).results.map(\.image)
        let folder = ProcessInfo.processInfo.environment["LANDMARK_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
            ?? fixture.root.appendingPathComponent("screenshots")
        let photo = fixture.url(query).path
        let output = try await withLiveServer(engine) { port in
            try Self.runBrowser(arguments: ["http://127.0.0.1:\(port)", photo, folder.path])
        }
        #expect(output.status == 0, "\(output.error)")
        struct Shown: Decodable { var results: [String]; var landmark: String; var match: String }
        let shown = try JSONDecoder().decode(Shown.self, from: Data(output.output.utf8))
        #expect(shown.results == expected)
        #expect(shown.landmark == fixture.entries[query].landmark)
        #expect(shown.match.contains("inliers"))
        for name in ["desktop-results.png", "desktop-match.png", "phone-results.png"] {
            let size = (try? FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size] as? Int) ?? 0
            #expect(size > 10_000, "\(name) is missing or empty")
        }
    }

    static func runBrowser(arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script.path] + arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: outputData, as: UTF8.self), String(decoding: errorData, as: UTF8.self))
    }
}
