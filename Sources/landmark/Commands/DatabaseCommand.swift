import ArgumentParser
import Foundation
import LandmarkPipeline
import LandmarkRecognition
import LandmarkVectorDatabase

struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Serve an index's vectors from PostgreSQL with pgvector, for many clients and machines.",
        discussion: """
        `db push` copies an index's vectors, image paths and labels into a table; `landmark search INDEX \
        QUERY --database URL` then ranks through the database with the same results as the index itself \
        (exact tables), while queries are still described from the index directory. \
        scripts/services/postgres.sh starts a PostgreSQL with pgvector on loopback.

        Examples:
          landmark db push index --database postgresql://landmark@127.0.0.1:15432/landmark
          landmark search index photo.jpg --database postgresql://landmark@127.0.0.1:15432/landmark
        """,
        subcommands: [Push.self, Info.self])

    struct Push: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy an index's vectors, image paths and labels into the database (replacing the table at the end).")

        @Argument(help: "Index directory made by `landmark index`.")
        var indexDirectory: String

        @OptionGroup var database: DatabaseOptions

        @Option(help: "Labels to store with the images: a folder benchmark, an image<TAB>landmark TSV or a GLDv2 train.csv (default: the indexed folder's ground_truth.tsv, when there is one).")
        var labels: String?

        @Option(help: "How the database searches the table: exact (a full scan, the in-process results), hnsw[:LINKS] or ivfflat:LISTS (approximate, pgvector's indexes).")
        var method: String = "exact"

        @Flag(help: "Print the table's description as JSON.")
        var json = false

        @Flag(name: .shortAndLong, help: "No progress output.")
        var quiet = false

        func run() throws {
            guard let url = database.resolvedURL else {
                throw ValidationError("give --database URL (or set \(DatabaseOptions.urlEnvironmentVariable))")
            }
            let parsedMethod: PgVectorTable.Method
            do {
                parsedMethod = try PgVectorTable.Method(parsing: method)
            } catch {
                throw ValidationError(error.description)
            }
            let index: RetrievalIndex
            let labelOfImage: [String: String]
            do throws(PipelineError) {
                index = try RetrievalIndex.open(URL(fileURLWithPath: indexDirectory), describingQueries: false)
                guard index.hasGlobalDescriptors else {
                    throw PipelineError(code: .invalidRequest, file: indexDirectory, reason: "has no global descriptors to serve (built with --descriptor none)")
                }
                let path = labels ?? LandmarkLabels.defaultPath(forImageRoot: index.manifest.imageRoot)
                let explicit = labels != nil
                if explicit || FileManager.default.fileExists(atPath: URL(fileURLWithPath: path).appendingPathComponent("ground_truth.tsv").path) {
                    labelOfImage = try LandmarkLabels.load(path).resolved(for: index).labelOfImage
                } else {
                    labelOfImage = [:]
                }
            } catch {
                throw fail(error)
            }
            let progress = ProgressBar(label: "copying", enabled: !quiet)
            let rows = index.store.identifiers.map { PgVectorTable.Row(image: $0, label: labelOfImage[$0]) }
            try reportingFailures {
                let table = try PgVectorTable.write(name: database.table, descriptor: index.manifest.descriptor, rows: index.store.rows,
                                                    images: rows, storeChecksum: index.store.fingerprint, method: parsedMethod, url: url) { done, total in
                    progress.handler(PipelineProgress(completed: done, total: total, current: "vectors"))
                }
                if json {
                    print(JSONOutput.line(TableOutput(table)))
                } else {
                    print("pushed \(table.images) images (\(labelOfImage.count) labelled) of \(indexDirectory) into table \(table.name), searched \(table.method)")
                }
            }
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a table pushed into the database.")

        @OptionGroup var database: DatabaseOptions

        func run() throws {
            guard let url = database.resolvedURL else {
                throw ValidationError("give --database URL (or set \(DatabaseOptions.urlEnvironmentVariable))")
            }
            try reportingFailures {
                print(JSONOutput.line(TableOutput(try PgVectorTable.describe(name: database.table, url: url))))
            }
        }
    }

    struct TableOutput: Encodable {
        var table: String
        var descriptor: String
        var dimension: Int
        var images: Int
        var storeChecksum: String
        var method: String

        init(_ table: PgVectorTable) {
            self.table = table.name
            descriptor = table.descriptor
            dimension = table.dimension
            images = table.images
            storeChecksum = String(format: "%08x", table.storeChecksum)
            method = table.method.description
        }
    }
}
