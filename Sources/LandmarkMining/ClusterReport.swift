import Foundation
import LandmarkEvaluation
import LandmarkImage
import LandmarkStorage
import Synchronization

/// Pictures that let a person judge mined clusters by eye (METHODS.md §9.2): a histogram of cluster
/// sizes and a contact sheet with a few images of each cluster on one row.
public enum ClusterReport {
    /// Cluster sizes binned 2, 3, 4, 5–9, 10–19, 20–49, 50–99, 100+: exact where clusters are common,
    /// coarse in the long tail that collections of landmark photos have.
    public static func sizeHistogram(_ clusters: MinedClusters) -> (bins: [String], counts: [Int]) {
        let bins: [(label: String, range: ClosedRange<Int>)] = [
            ("2", 2...2), ("3", 3...3), ("4", 4...4), ("5-9", 5...9), ("10-19", 10...19), ("20-49", 20...49),
            ("50-99", 50...99), ("100+", 100...Int.max),
        ]
        let counts = bins.map { bin in clusters.members.filter { bin.range.contains($0.count) }.count }
        return (bins.map(\.label), counts)
    }

    /// The histogram as a bar chart.
    public static func histogramPicture(_ clusters: MinedClusters) -> RGBImage {
        let (bins, counts) = sizeHistogram(clusters)
        let images = clusters.members.reduce(0) { $0 + $1.count }
        return BarChart(title: "\(clusters.members.count) clusters of \(images) images, by size",
                        categories: bins, series: [("clusters", counts.map(Double.init))]).render(width: 720, height: 400)
    }

    /// One row per cluster (the largest `maximumClusters`), each with its name, size and up to
    /// `imagesPerCluster` thumbnails; an image that cannot be read is drawn as a grey cell.
    /// - Parameter root: the folder the graph's image paths are relative to.
    public static func contactSheet(_ clusters: MinedClusters, graph: MatchGraph, root: URL, maximumClusters: Int = 20,
                                    imagesPerCluster: Int = 6, cell: Int = 128) -> RGBImage {
        let rows = Array(clusters.members.prefix(maximumClusters).enumerated())
        let labelWidth = 164, gap = 6, rowHeight = cell + gap
        let width = labelWidth + imagesPerCluster * (cell + gap) + gap
        let height = max(1, rows.count) * rowHeight + gap
        var canvas = Canvas(width: width, height: height, colour: (255, 255, 255))
        let paths = rows.flatMap { $0.element.prefix(imagesPerCluster) }.map { graph.images[$0] }
        let thumbnails = Self.thumbnails(paths.map { root.appendingPathComponent($0) }, side: cell)
        var next = 0
        for (row, (cluster, members)) in rows.enumerated() {
            let top = gap + row * rowHeight
            canvas.text(String(format: "cluster-%04d", cluster), x: gap, y: top + cell / 2 - 12, scale: 2, colour: (0, 0, 0))
            canvas.text("\(members.count) images", x: gap, y: top + cell / 2 + 6, scale: 2, colour: (90, 90, 90))
            for column in 0..<min(imagesPerCluster, members.count) {
                let left = labelWidth + column * (cell + gap)
                if let thumbnail = thumbnails[next] {
                    canvas.draw(thumbnail, x: left + (cell - thumbnail.width) / 2, y: top + (cell - thumbnail.height) / 2)
                } else {
                    canvas.fill(x: left, y: top, width: cell, height: cell, colour: (200, 200, 200))
                }
                next += 1
            }
        }
        return canvas.image
    }

    /// Decodes and shrinks images on every core; nil for an image that cannot be read.
    static func thumbnails(_ urls: [URL], side: Int) -> [RGBImage?] {
        let results = Mutex<[RGBImage?]>(Array(repeating: nil, count: urls.count))
        guard !urls.isEmpty else { return [] }
        DispatchQueue.concurrentPerform(iterations: urls.count) { position in
            guard let image = try? ImageDecoder.decode(contentsOf: urls[position]) else { return }
            let thumbnail = image.resized(longerSide: side, filter: .bilinear)
            results.withLock { $0[position] = thumbnail }
        }
        return results.withLock { $0 }
    }

    /// Writes `clusters.png` (the contact sheet) and `cluster-sizes.png` (the histogram) into `directory`.
    public static func write(to directory: URL, clusters: MinedClusters, graph: MatchGraph, root: URL) throws {
        try DurableFile.write(ImageEncoder.png(contactSheet(clusters, graph: graph, root: root)),
                              to: directory.appendingPathComponent("clusters.png"))
        try DurableFile.write(ImageEncoder.png(histogramPicture(clusters)), to: directory.appendingPathComponent("cluster-sizes.png"))
    }
}
