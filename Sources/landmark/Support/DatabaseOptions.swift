import ArgumentParser
import Foundation
import LandmarkPipeline
import LandmarkVectorDatabase

/// Where an index's vectors live in PostgreSQL + pgvector, shared by `search` and `db`.
struct DatabaseOptions: ParsableArguments {
    static let urlEnvironmentVariable = "LANDMARK_DATABASE_URL"

    @Option(name: .customLong("database"), help: ArgumentHelp("PostgreSQL with pgvector holding the index's vectors, e.g. postgresql://landmark@127.0.0.1:15432/landmark (default: $LANDMARK_DATABASE_URL). scripts/services/postgres.sh starts one.", valueName: "url"))
    var url: String?

    @Option(name: .customLong("table"), help: "The index's table in the database.")
    var table: String = "landmark_images"

    /// The URL given or from the environment, nil when neither.
    var resolvedURL: String? {
        url ?? ProcessInfo.processInfo.environment[Self.urlEnvironmentVariable].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// `index` searched through the database's table, which must hold exactly its rows.
    func attach(to index: inout RetrievalIndex, url: String) throws {
        let remote = try reportingFailures {
            try PgVectorIndex(url: url, table: table, expecting: (index.store.count, index.store.fingerprint))
        }
        do {
            try index.searchGlobalDescriptors(with: remote)
        } catch {
            throw fail(error)
        }
    }
}
