import LandmarkLinearAlgebra

/// What every index the system searches answers: the `k` best of its entries for each of a batch
/// of queries, scored so that higher is more similar, in the style of a FAISS index.
///
/// One protocol for both kinds of query the system has: a matrix of global descriptors
/// (`VectorIndex`: exact search, inverted files, graphs, and their sharded and tombstoned forms) and
/// the local descriptors of each query image (`ASMKIndex`). Code that only ranks — evaluation,
/// benchmarks, the first stage of a pipeline — is written once against it.
public protocol SearchIndex: Sendable {
    /// A batch of queries: one row per query for global descriptors, one descriptor set per query
    /// image for ASMK.
    associatedtype Queries
    /// Entries held: the indexed images (or rows), numbered `0 ..< count`.
    var count: Int { get }
    /// The `k` best entries for each query, best first, ties broken by the smaller entry. Approximate
    /// indexes may miss true neighbours; exact ones return exactly what a loop over all entries would.
    func search(_ queries: Queries, k: Int, parameters: SearchParameters) -> [[Neighbor]]
}

extension SearchIndex {
    /// Search with the index's default parameters.
    public func search(_ queries: Queries, k: Int) -> [[Neighbor]] {
        search(queries, k: k, parameters: SearchParameters())
    }
}

/// A searchable collection of descriptors, scored by inner product (cosine similarity for
/// L2-normalised rows).
///
/// Every way of ranking an index's images by global descriptor goes through this one protocol:
/// exact search (`FlatIndex`), inverted files with flat or product-quantised cells
/// (`InvertedFileIndex`) and graph search (`HNSWIndex`). Which one an index directory uses is its
/// `IndexFactory` string, so callers never branch on the kind. Queries are rows of a matrix
/// (`queries.columns == dimension`).
public protocol VectorIndex: SearchIndex where Queries == Matrix {
    /// The factory string this index was made from (e.g. `HNSW32`).
    var factory: IndexFactory { get }
    /// Components per vector.
    var dimension: Int { get }
}

/// Settings a search may change without rebuilding the index; nil means the index's default.
public struct SearchParameters: Sendable, Equatable, Codable {
    /// Inverted-file cells visited per query (FAISS's `nprobe`).
    public var probes: Int?
    /// Candidates kept during the graph's beam search (FAISS's `efSearch`); at least k is used.
    public var efSearch: Int?
    /// Product-quantised candidates re-scored with the full vectors before the top k are returned.
    public var rerankDepth: Int?
    /// Threads the queries are spread over (all cores when nil).
    public var threads: Int?

    public init(probes: Int? = nil, efSearch: Int? = nil, rerankDepth: Int? = nil, threads: Int? = nil) {
        self.probes = probes
        self.efSearch = efSearch
        self.rerankDepth = rerankDepth
        self.threads = threads
    }
}

/// An index could not be parsed, trained, read or written. Names the file (or the factory string)
/// and says what to do.
public struct VectorIndexError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong; extensible, compare with the static members.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The factory string is not one this build understands.
        public static let invalidFactory = Code("invalidFactory")
        /// The data cannot train the index (too few vectors for the cells or codebooks asked for).
        public static let cannotTrain = Code("cannotTrain")
        /// The file is missing, damaged, or belongs to other descriptors.
        public static let invalidFile = Code("invalidFile")
        /// The operating system refused a read or write.
        public static let io = Code("io")
    }

    public let code: Code
    /// Path of the file involved, or the factory string.
    public let file: String
    public let reason: String

    public init(code: Code, file: String, reason: String) {
        self.code = code
        self.file = file
        self.reason = reason
    }

    public var description: String { "\(file): \(reason)" }
}
