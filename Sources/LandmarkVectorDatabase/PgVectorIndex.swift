import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra
import Synchronization

/// A `VectorIndex` whose vectors live in PostgreSQL with pgvector (`PgVectorTable`): every command,
/// pipeline and the service search it as they search an in-process index, with the same row numbers,
/// so a shared index serves many clients from one database.
///
/// Scores are inner products (pgvector's `<#>`, negated), as the in-process indexes score. An exact
/// table is scanned in full and ties are broken by the smaller row, as `FlatIndex` does; an HNSW or
/// IVF table answers from its graph or cells (`SearchParameters.efSearch`, `.probes`).
/// Queries of a batch run on up to `SearchParameters.threads` connections at once (default: the cores).
public final class PgVectorIndex: VectorIndex {
    public let table: PgVectorTable
    public var count: Int { table.images }
    public var dimension: Int { table.dimension }
    /// Exact tables answer as `Flat` does; approximate ones are still searched through this protocol.
    public var factory: IndexFactory { .defaultFactory }

    private let url: String
    private let sessions = Mutex<[SessionBox]>([])

    /// Opens the table `name` of the database at `url`.
    /// - Parameter expecting: the index the table must hold (count and store checksum), so that a search
    ///   never ranks by vectors other than the index's own; nil skips the check.
    public init(url: String, table name: String, expecting: (count: Int, storeChecksum: UInt32)? = nil) throws(DatabaseError) {
        let table = try PgVectorTable.describe(name: name, url: url)
        if let expecting, expecting.count != table.images || expecting.storeChecksum != table.storeChecksum {
            throw DatabaseError(subject: name, reason: "holds another version of the index (\(table.images) images, checksum "
                                    + "\(String(table.storeChecksum, radix: 16)); the index has \(expecting.count), "
                                    + "\(String(expecting.storeChecksum, radix: 16))); run `landmark db push` again")
        }
        self.table = table
        self.url = url
    }

    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        (try? searchOrThrow(queries, k: k, parameters: parameters)) ?? Array(repeating: [], count: queries.rows)
    }

    /// `search`, with the database's error when a query fails (the protocol's `search` cannot throw, and
    /// answers no neighbours then).
    public func searchOrThrow(_ queries: Matrix, k: Int, parameters: SearchParameters = SearchParameters()) throws(DatabaseError) -> [[Neighbor]] {
        precondition(queries.columns == dimension, "Queries have dimension \(queries.columns), the table \(dimension)")
        let k = min(k, count)
        guard queries.rows > 0 else { return [] }
        guard k > 0 else { return Array(repeating: [], count: queries.rows) }
        let workers = max(1, min(queries.rows, parameters.threads ?? ProcessInfo.processInfo.activeProcessorCount))
        let results = Mutex<[Int: Result<[Neighbor], DatabaseError>]>([:])
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var session: SessionBox?
            for query in Swift.stride(from: worker, to: queries.rows, by: workers) {
                let outcome: Result<[Neighbor], DatabaseError>
                do throws(DatabaseError) {
                    if session == nil { session = try borrow(parameters) }
                    outcome = .success(try search(row: query, of: queries, k: k, on: session?.session))
                } catch {
                    outcome = .failure(error)
                    session = nil
                }
                results.withLock { $0[query] = outcome }
            }
            if let session { giveBack(session) }
        }
        let found = results.withLock { $0 }
        var ranked: [[Neighbor]] = []
        for query in 0 ..< queries.rows {
            switch found[query] {
            case .success(let neighbors)?: ranked.append(neighbors)
            case .failure(let error)?: throw error
            case nil: ranked.append([])
            }
        }
        return ranked
    }

    private func search(row: Int, of queries: Matrix, k: Int, on session: PostgresSession?) throws(DatabaseError) -> [Neighbor] {
        guard let session else { return [] }
        let vector = PostgresSession.vectorLiteral(queries.storage[row * dimension ..< (row + 1) * dimension])
        // The second key breaks ties as FlatIndex does; an approximate index needs the distance alone to be used.
        let order = table.method == .exact ? "embedding <#> $1::vector, id" : "embedding <#> $1::vector"
        let rows = try session.execute("SELECT id, embedding <#> $1::vector FROM \(table.name) ORDER BY \(order) LIMIT \(k)", [vector])
        return rows.compactMap { line in
            guard let id = line[0].flatMap({ Int($0) }), let distance = line[1].flatMap({ Double($0) }) else { return nil }
            return Neighbor(index: id, score: Float(-distance))
        }
    }

    /// A pooled connection with the search settings of `parameters` applied.
    private func borrow(_ parameters: SearchParameters) throws(DatabaseError) -> SessionBox {
        let box: SessionBox
        if let pooled = sessions.withLock({ $0.popLast() }) {
            box = pooled
        } else {
            box = SessionBox(session: try PostgresSession(url: url))
        }
        switch table.method {
        case .exact:
            // The planner must not pick an index another table of the same name had.
            try box.session.execute("SET enable_indexscan = off")
        case .hnsw:
            try box.session.execute("SET hnsw.ef_search = \(max(parameters.efSearch ?? 64, 1))")
        case .ivfflat(let lists):
            try box.session.execute("SET ivfflat.probes = \(max(1, min(lists, parameters.probes ?? max(8, lists / 64))))")
        }
        return box
    }

    private func giveBack(_ box: SessionBox) {
        sessions.withLock { $0.append(box) }
    }
}

/// A session moved between threads through the pool; only one thread holds it at a time.
private final class SessionBox: @unchecked Sendable {
    let session: PostgresSession
    init(session: PostgresSession) { self.session = session }
}
