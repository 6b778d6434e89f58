import ArgumentParser
import LandmarkIndex

/// Search settings of approximate indexes, shared by the commands that search.
struct SearchParameterOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "IVF cells visited per query (default: a sixty-fourth of the cells, at least 8).")
    var nprobe: Int?

    @Option(parsing: .unconditional, help: "HNSW beam width (default 64; at least the number of results asked for).")
    var efSearch: Int?

    @Option(parsing: .unconditional, help: "IVF-PQ candidates re-scored with the full vectors (default 256).")
    var rerank: Int?

    var parameters: SearchParameters {
        SearchParameters(probes: nprobe, efSearch: efSearch, rerankDepth: rerank)
    }

    func validate() throws {
        if let nprobe, nprobe < 1 { throw ValidationError("--nprobe must be at least 1") }
        if let efSearch, efSearch < 1 { throw ValidationError("--ef-search must be at least 1") }
        if let rerank, rerank < 0 { throw ValidationError("--rerank must not be negative") }
    }
}

/// Parses `--index FACTORY`, turning a bad string into a usage error that lists the accepted forms.
func parseIndexFactory(_ text: String) throws -> IndexFactory {
    do {
        return try IndexFactory(parsing: text)
    } catch {
        throw ValidationError("--index \(text): \(error.reason)")
    }
}
