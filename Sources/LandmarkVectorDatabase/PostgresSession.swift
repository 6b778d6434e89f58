import CLibPQ
import Foundation

/// A PostgreSQL server refused a connection or a statement; the message is the server's, with the
/// statement or table it concerns.
public struct DatabaseError: Error, Sendable, CustomStringConvertible, Equatable {
    /// What the error concerns: the database URL (without its password) or a table.
    public var subject: String
    public var reason: String

    public init(subject: String, reason: String) {
        self.subject = subject
        self.reason = reason
    }

    public var description: String { "\(subject): \(reason)" }
}

/// One connection to PostgreSQL through libpq, the client library `psql` itself uses: synchronous,
/// which is what the `VectorIndex` protocol is, and with no build cost (Debian's libpq-dev).
///
/// Not thread-safe: one thread uses a session at a time (`PgVectorIndex` keeps a pool).
final class PostgresSession {
    private let connection: OpaquePointer
    let displayURL: String

    /// Connects to `url` (`postgresql://user@host:port/database`, or any libpq connection string).
    init(url: String) throws(DatabaseError) {
        displayURL = Self.withoutPassword(url)
        guard let connection = PQconnectdb(url) else {
            throw DatabaseError(subject: displayURL, reason: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
            PQfinish(connection)
            throw DatabaseError(subject: displayURL, reason: "cannot connect (\(message)); is the server running? "
                                    + "scripts/services/postgres.sh starts one on loopback")
        }
        self.connection = connection
        // The server's notices ("table … does not exist, skipping") are for people at psql, not for our users.
        try execute("SET client_min_messages = warning")
    }

    deinit { PQfinish(connection) }

    /// A URL as it may be shown: any password replaced.
    static func withoutPassword(_ url: String) -> String {
        guard let components = URLComponents(string: url), components.password != nil else { return url }
        var shown = components
        shown.password = "***"
        return shown.string ?? url
    }

    /// Runs one statement with text parameters and returns its rows as text (nil for NULL).
    @discardableResult
    func execute(_ sql: String, _ parameters: [String?] = []) throws(DatabaseError) -> [[String?]] {
        let result = withTextParameters(parameters) { values in
            PQexecParams(connection, sql, Int32(parameters.count), nil, values, nil, nil, 0)
        }
        guard let result else { throw DatabaseError(subject: displayURL, reason: lastError()) }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else {
            let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            throw DatabaseError(subject: displayURL, reason: "\(message) (in: \(sql.prefix(120)))")
        }
        let rows = Int(PQntuples(result))
        let columns = Int(PQnfields(result))
        var table: [[String?]] = []
        table.reserveCapacity(rows)
        for row in 0 ..< rows {
            var values: [String?] = []
            values.reserveCapacity(columns)
            for column in 0 ..< columns {
                values.append(PQgetisnull(result, Int32(row), Int32(column)) != 0
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column))))
            }
            table.append(values)
        }
        return table
    }

    /// `COPY table (columns) FROM STDIN` in text format, with the lines `write` produces (each already
    /// escaped, tab-separated, newline-terminated), sent in blocks of about a megabyte.
    func copy(into table: String, columns: String, _ write: (_ send: (String) throws(DatabaseError) -> Void) throws(DatabaseError) -> Void) throws(DatabaseError) {
        let start = PQexec(connection, "COPY \(table) (\(columns)) FROM STDIN")
        let status = start.map(PQresultStatus)
        start.map(PQclear)
        guard status == PGRES_COPY_IN else { throw DatabaseError(subject: table, reason: "COPY refused: \(lastError())") }
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 20)
        func flush() throws(DatabaseError) {
            guard !buffer.isEmpty else { return }
            let sent = buffer.withUnsafeBufferPointer { bytes in
                bytes.withMemoryRebound(to: CChar.self) { PQputCopyData(connection, $0.baseAddress, Int32($0.count)) }
            }
            guard sent == 1 else { throw DatabaseError(subject: table, reason: "COPY data refused: \(lastError())") }
            buffer.removeAll(keepingCapacity: true)
        }
        do {
            try write { (line: String) throws(DatabaseError) in
                buffer.append(contentsOf: line.utf8)
                if buffer.count >= 1 << 20 { try flush() }
            }
            try flush()
        } catch {
            _ = PQputCopyEnd(connection, "landmark stopped the copy")
            while let result = PQgetResult(connection) { PQclear(result) }
            throw error
        }
        guard PQputCopyEnd(connection, nil) == 1 else { throw DatabaseError(subject: table, reason: "COPY could not end: \(lastError())") }
        var failure: String?
        while let result = PQgetResult(connection) {
            if PQresultStatus(result) != PGRES_COMMAND_OK {
                failure = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
            PQclear(result)
        }
        if let failure { throw DatabaseError(subject: table, reason: "COPY failed: \(failure)") }
    }

    private func lastError() -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Calls `body` with C strings for the parameters, valid for the call.
    private func withTextParameters<Result>(_ parameters: [String?],
                                            _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> Result) -> Result {
        guard !parameters.isEmpty else { return body(nil) }
        var storage: [UnsafeMutablePointer<CChar>?] = parameters.map { $0.map { strdup($0) } ?? nil }
        defer { for pointer in storage { free(pointer) } }
        // An optional mutable C-string pointer and an optional constant one have the same layout.
        return storage.withUnsafeMutableBufferPointer { buffer in
            body(UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: UnsafePointer<CChar>?.self))
        }
    }

    /// Text-format COPY field: backslash, tab, newline and carriage return escaped.
    static func copyField(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "\\": escaped += "\\\\"
            case "\t": escaped += "\\t"
            case "\n": escaped += "\\n"
            case "\r": escaped += "\\r"
            default: escaped.unicodeScalars.append(character)
            }
        }
        return escaped
    }

    /// pgvector's text form of a vector: each component in Swift's shortest form that reads back to the
    /// same Float, so the database holds exactly the index's vectors.
    static func vectorLiteral<Components: Collection<Float>>(_ vector: Components) -> String {
        "[" + vector.map { $0.description }.joined(separator: ",") + "]"
    }
}
