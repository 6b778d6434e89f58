import Foundation
import LandmarkStorage

/// The `--rankings-out` file: one `QueryRanking` JSON object a line, so that anyone can recompute the
/// metrics with their own code.
public enum RankingsFile {
    /// Writes all rankings durably and atomically (`DurableFile`).
    public static func write(_ rankings: [QueryRanking], to url: URL) throws(PipelineError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var data = Data()
        do {
            for ranking in rankings {
                data.append(try encoder.encode(ranking))
                data.append(0x0A)
            }
            try DurableFile.write(data, to: url)
        } catch {
            throw PipelineError(code: .writeFailed, file: url.path, reason: error.localizedDescription)
        }
    }

    /// Reads a file written by `write`; a malformed line is an error naming its number.
    public static func read(_ url: URL) throws(PipelineError) -> [QueryRanking] {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw PipelineError(code: .inputNotFound, file: url.path, reason: error.localizedDescription)
        }
        var rankings: [QueryRanking] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.isEmpty {
            do {
                rankings.append(try JSONDecoder().decode(QueryRanking.self, from: Data(line.utf8)))
            } catch {
                throw PipelineError(code: .invalidDataset, file: url.path, reason: "line \(number + 1) is not a ranking: \(error)")
            }
        }
        return rankings
    }
}
