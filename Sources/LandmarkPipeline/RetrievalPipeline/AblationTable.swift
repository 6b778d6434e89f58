import Foundation
import LandmarkStorage
import LandmarkEvaluation
import LandmarkImage

/// The stage-by-stage table of an ablation: what each stage adds to mAP and mP@10, and what it costs per
/// query. Rendered as text for the terminal, CSV for scripts and a PNG bar chart for people.
public struct AblationTable: Sendable, Equatable, Codable {
    public struct Row: Sendable, Equatable, Codable {
        /// The stage this row adds ("search" for the first).
        public var stage: String
        /// The whole pipeline up to this stage.
        public var pipeline: String
        public var meanAveragePrecision: Double
        public var meanPrecisionAt10: Double
        /// Seconds per query of this stage alone (excluding description and local-feature extraction).
        public var secondsPerQuery: Double
    }

    public var dataset: String
    public var rows: [Row]

    /// One row per report of `PipelineEvaluation.ablation`, each adding the last stage of its pipeline.
    public init(dataset: String, reports: [PipelineReport]) {
        self.dataset = dataset
        rows = reports.map { report in
            let last = report.secondsPerQuery.last
            return Row(stage: last?.stage ?? "search", pipeline: report.pipeline,
                       meanAveragePrecision: report.retrieval.meanAveragePrecision,
                       meanPrecisionAt10: report.retrieval.meanPrecisionAt[10] ?? 0,
                       secondsPerQuery: last?.seconds ?? 0)
        }
    }

    /// A fixed-width table for the terminal.
    public var text: String {
        let stageWidth = max(5, rows.map(\.stage.count).max() ?? 0)
        var lines = ["ablation on \(dataset)",
                     "stage".padding(toLength: stageWidth, withPad: " ", startingAt: 0) + "     mAP   mP@10   ms/query"]
        for row in rows {
            lines.append(row.stage.padding(toLength: stageWidth, withPad: " ", startingAt: 0)
                + String(format: "  %6.2f  %6.2f  %9.2f", 100 * row.meanAveragePrecision,
                         100 * row.meanPrecisionAt10, 1000 * row.secondsPerQuery))
        }
        if let last = rows.last { lines.append("pipeline: \(last.pipeline)") }
        return lines.joined(separator: "\n")
    }

    /// `stage,pipeline,mAP,mP@10,seconds_per_query` with a header line.
    public var csv: String {
        func quoted(_ field: String) -> String {
            field.contains(where: { ",\"\n".contains($0) }) ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
        }
        var lines = ["stage,pipeline,mAP,mP@10,seconds_per_query"]
        for row in rows {
            lines.append([quoted(row.stage), quoted(row.pipeline), String(format: "%.6f", row.meanAveragePrecision),
                          String(format: "%.6f", row.meanPrecisionAt10), String(format: "%.6f", row.secondsPerQuery)]
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Grouped bars of mAP and mP@10 (in %) per stage.
    public func chart() -> RGBImage {
        BarChart(title: "Ablation: mAP and mP@10 (%) after each stage",
                 categories: rows.map(\.stage),
                 series: [(name: "mAP", values: rows.map { 100 * $0.meanAveragePrecision }),
                          (name: "mP@10", values: rows.map { 100 * $0.meanPrecisionAt10 })],
                 maximum: 100).render()
    }

    /// Writes `<prefix>.csv` and `<prefix>.png`, each through a temporary file and a rename.
    public func write(prefix: URL) throws(PipelineError) -> (csv: URL, png: URL) {
        let csvURL = prefix.appendingPathExtension("csv"), pngURL = prefix.appendingPathExtension("png")
        do {
            try DurableFile.write(Data(csv.utf8), to: csvURL)
        } catch {
            throw PipelineError(code: .writeFailed, file: csvURL.path, reason: error.localizedDescription)
        }
        do {
            try DurableFile.write(try ImageEncoder.png(chart()), to: pngURL)
        } catch {
            throw PipelineError(code: .writeFailed, file: pngURL.path, reason: "\(error)")
        }
        return (csvURL, pngURL)
    }
}
