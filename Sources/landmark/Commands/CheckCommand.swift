import ArgumentParser
import Foundation
import LandmarkPipeline

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Verify every file of an index in full: checksums over every byte, and agreement with the manifest.",
        discussion: """
        Opening an index for search checks headers and sizes, and checksums stores only up to \
        \(RetrievalIndex.checksumOnOpenLimit >> 20) MB, so that a large index opens at once; this command reads \
        everything. Exit status 0 when every file is sound, 1 otherwise.
        """)

    @Argument(help: "Index directory.")
    var indexDirectory: String

    @Flag(help: "Print one JSON object: {\"ok\": …, \"files\": [{\"file\": …, \"bytes\": …, \"problem\": …}]}.")
    var json = false

    struct Output: Encodable {
        var ok: Bool
        var files: [IndexCheck.FileResult]
    }

    func run() throws {
        let results = IndexCheck.run(URL(fileURLWithPath: indexDirectory))
        let ok = results.allSatisfy { $0.problem == nil }
        if json {
            print(JSONOutput.line(Output(ok: ok, files: results)))
        } else {
            for result in results {
                let size = String(format: "%.1f MB", Double(result.bytes) / 1e6)
                print("\(result.problem == nil ? "ok     " : "DAMAGED") \(result.file) (\(size))" + (result.problem.map { ": \($0)" } ?? ""))
            }
            print(ok ? "\(indexDirectory): every file is sound" : "\(indexDirectory): damaged — see above")
        }
        if !ok { throw LandmarkExitCode.failure }
    }
}
