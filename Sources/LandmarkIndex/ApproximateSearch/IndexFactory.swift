import Foundation

/// What kind of `VectorIndex` an index directory holds, written as a FAISS-style factory string.
///
/// - `Flat`: exact search over the float32 store; `Flat,f16`: the same over a float16 store
///   (half the bytes, converted block by block while searching).
/// - `IVF<cells>,Flat`: an inverted file whose cells hold row numbers; the vectors stay in the store.
/// - `IVF<cells>,PQ<m>`: the cells hold residuals product-quantised into `m` bytes per vector
///   (256 centroids per sub-quantiser); a shortlist is re-scored with the full vectors.
/// - `OPQ<m>,IVF<cells>,PQ<m>`: the same with the residuals rotated first by a learnt rotation
///   (`OptimizedProductQuantization`), which lowers the quantisation error of correlated components.
/// - `HNSW<M>`: a layered proximity graph with `M` links per node (2M on the bottom layer).
///
/// Strings are case-insensitive on input and printed in the canonical form above.
public enum IndexFactory: Sendable, Hashable, CustomStringConvertible, Codable {
    case flat(float16: Bool)
    /// `rotated`: OPQ before the product quantiser (only with `productQuantizerBytes`).
    case invertedFile(cells: Int, productQuantizerBytes: Int?, rotated: Bool = false)
    case hierarchicalGraph(links: Int)

    /// The index the system uses when none is asked for.
    public static let defaultFactory = IndexFactory.flat(float16: false)

    /// Parses a factory string.
    /// - Throws: `.invalidFactory` with the accepted forms for anything else, including FAISS
    ///   strings this build does not implement (scalar quantisers, dimension-reducing OPQ, other metrics).
    public init(parsing text: String) throws(VectorIndexError) {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            .map { $0.trimmingCharacters(in: .whitespaces).uppercased() }
        func failure(_ reason: String) -> VectorIndexError {
            VectorIndexError(code: .invalidFactory, file: text,
                             reason: "\(reason); accepted: Flat, Flat,f16, IVF<cells>,Flat, IVF<cells>,PQ<bytes>, OPQ<bytes>,IVF<cells>,PQ<bytes>, HNSW<links>")
        }
        func number(after prefix: String, in part: String, range: ClosedRange<Int>) throws(VectorIndexError) -> Int {
            guard part.hasPrefix(prefix), let value = Int(part.dropFirst(prefix.count)) else {
                throw failure("'\(part)' is not \(prefix)<number>")
            }
            guard range.contains(value) else {
                throw failure("\(prefix)\(value) is out of range \(range.lowerBound)…\(range.upperBound)")
            }
            return value
        }
        switch parts.first ?? "" {
        case "FLAT":
            guard parts.count <= 2 else { throw failure("too many parts") }
            if parts.count == 2 {
                guard parts[1] == "F16" else { throw failure("'\(parts[1])' is not a storage type (f16)") }
                self = .flat(float16: true)
            } else {
                self = .flat(float16: false)
            }
        case let first where first.hasPrefix("OPQ"):
            let rotated = try number(after: "OPQ", in: first, range: 1 ... 1024)
            guard parts.count == 3, parts[1].hasPrefix("IVF"), parts[2].hasPrefix("PQ") else {
                throw failure("OPQ rotates before a product quantiser: OPQ<bytes>,IVF<cells>,PQ<bytes>")
            }
            let cells = try number(after: "IVF", in: parts[1], range: 1 ... 1 << 20)
            let bytes = try number(after: "PQ", in: parts[2], range: 1 ... 1024)
            guard bytes == rotated else { throw failure("OPQ\(rotated) is trained for \(rotated) sub-quantisers, not PQ\(bytes)") }
            self = .invertedFile(cells: cells, productQuantizerBytes: bytes, rotated: true)
        case let first where first.hasPrefix("IVF"):
            guard parts.count == 2 else { throw failure("an inverted file needs its cells' encoding, e.g. IVF256,Flat") }
            let cells = try number(after: "IVF", in: first, range: 1 ... 1 << 20)
            if parts[1] == "FLAT" {
                self = .invertedFile(cells: cells, productQuantizerBytes: nil)
            } else {
                self = .invertedFile(cells: cells, productQuantizerBytes: try number(after: "PQ", in: parts[1], range: 1 ... 1024))
            }
        case let first where first.hasPrefix("HNSW"):
            guard parts.count == 1 else { throw failure("HNSW stores full vectors; no encoding part is accepted") }
            self = .hierarchicalGraph(links: try number(after: "HNSW", in: first, range: 2 ... 256))
        default:
            throw failure("unknown index '\(text)'")
        }
    }

    public var description: String {
        switch self {
        case .flat(let float16): float16 ? "Flat,f16" : "Flat"
        case .invertedFile(let cells, let bytes, let rotated):
            (rotated ? "OPQ\(bytes ?? 0)," : "") + "IVF\(cells)," + (bytes.map { "PQ\($0)" } ?? "Flat")
        case .hierarchicalGraph(let links): "HNSW\(links)"
        }
    }

    /// True for indexes that search the store itself with nothing beside it.
    public var isExact: Bool {
        if case .flat = self { return true }
        return false
    }

    /// The store's element type for this factory (float16 only for `Flat,f16`).
    public var storeElementType: DescriptorElementType {
        if case .flat(true) = self { return .float16 }
        return .float32
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try IndexFactory(parsing: text)
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: error.description))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
