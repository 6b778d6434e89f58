import ArgumentParser
import Foundation
import LandmarkPipeline

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Join indexes built from disjoint parts of one folder into one index.",
        discussion: """
        The shards are index directories made by `landmark index IMAGES --out SHARD --shard K/N` (on one \
        machine each, or as Spark tasks). The merged index holds the same rows in the same order, with the \
        same vectors, as one `landmark index IMAGES` run, and its search index is built afresh. The shards \
        must share descriptor and folder and must not hold the same image twice. The shards are only read.

        Example: landmark merge parts/shard-0 parts/shard-1 --out index
        """)

    @Argument(help: "Shard index directories.")
    var shards: [String]

    @Option(name: .customLong("out"), help: "Index directory to create, or an index to replace.")
    var output: String

    @Option(name: .customLong("index"), help: "How the merged descriptors are searched (as for `landmark index --index`); default: the shards' choice.")
    var indexFactory: String?

    @Flag(help: "Print the summary as JSON.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    func validate() throws {
        guard !shards.isEmpty else { throw ValidationError("give at least one shard directory") }
    }

    func run() throws {
        let factory = try indexFactory.map(parseIndexFactory)
        let progress = ProgressBar(label: "merging", enabled: !quiet)
        let summary: IndexMerge.Summary
        do {
            summary = try IndexMerge.merge(shards: shards.map { URL(fileURLWithPath: $0) }, into: URL(fileURLWithPath: output),
                                           factory: factory, progress: progress.handler)
        } catch {
            throw fail(error)
        }
        if json {
            print(JSONOutput.line(summary))
        } else {
            print("merged \(summary.shards) shards into \(output): \(summary.images) images, \(summary.skipped) skipped, "
                + "\(summary.descriptorBytesWritten) bytes of descriptors written")
        }
    }
}
