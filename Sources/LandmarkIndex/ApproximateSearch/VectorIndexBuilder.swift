import Foundation
import LandmarkLinearAlgebra
import LandmarkStorage

/// Makes, saves and loads the `VectorIndex` a factory string names, over a store's rows.
///
/// Exact indexes are the store itself and have no file. The others are kept in one checksummed
/// file beside the store (`vector-index.lmx`) that records the factory and the store's own checksum,
/// so an index left over from other descriptors is recognised and rebuilt, never searched.
public enum VectorIndexBuilder {
    /// Trains (when needed) and fills the index over every row.
    /// - Throws: `.cannotTrain` when the rows cannot train the index.
    public static func build(_ factory: IndexFactory, rows: DatabaseRows, seed: UInt64 = 0,
                             progress: ((Int, Int) -> Void)?) throws(VectorIndexError) -> any VectorIndex {
        switch factory {
        case .flat:
            return FlatIndex(rows: rows)
        case .invertedFile:
            return try InvertedFileIndex.build(rows: rows, factory: factory, seed: seed, progress: progress)
        case .hierarchicalGraph(let links):
            return HNSWIndex.build(rows: rows, links: links, seed: seed, progress: progress)
        }
    }

    /// Checks, before anything is written, that `count` vectors of `dimension` components can train
    /// the index (the same conditions `build` would fail on).
    /// - Throws: `.cannotTrain` with what to use instead.
    public static func validate(_ factory: IndexFactory, count: Int, dimension: Int) throws(VectorIndexError) {
        guard case .invertedFile(let cells, let bytes) = factory else { return }
        guard count >= cells else {
            throw VectorIndexError(code: .cannotTrain, file: factory.description,
                                   reason: "\(count) vectors cannot train \(cells) cells; use at most IVF\(max(1, count / 39)) "
                                       + "(39 vectors per cell), HNSW or Flat")
        }
        if let bytes {
            guard dimension % bytes == 0 else {
                throw VectorIndexError(code: .cannotTrain, file: factory.description,
                                       reason: "the dimension \(dimension) is not a multiple of \(bytes) sub-quantisers")
            }
            guard count >= ProductQuantizer.centroidsPerSubquantizer else {
                throw VectorIndexError(code: .cannotTrain, file: factory.description,
                                       reason: "\(count) vectors cannot train 256 centroids per sub-space; product quantisation needs "
                                           + "at least 256 (ideally 10,000+) — use IVF<n>,Flat, HNSW or Flat")
            }
        }
    }

    static let magic: [UInt8] = Array("LMVECIDX".utf8)
    static let formatVersion: UInt32 = 1

    /// Writes a non-exact index atomically and durably (temporary file, flush, rename).
    /// - Parameter storeChecksum: the store's recorded checksum, checked again on load.
    public static func write(_ index: any VectorIndex, storeChecksum: UInt32, to url: URL) throws(VectorIndexError) {
        var writer = ASMKByteWriter(magic: magic, version: formatVersion)
        let factory = Array(index.factory.description.utf8)
        writer.append(UInt32(factory.count))
        writer.append(bytes: factory)
        writer.append(storeChecksum)
        writer.append(UInt64(index.dimension))
        writer.append(UInt64(index.count))
        switch index {
        case let inverted as InvertedFileIndex:
            writer.append(inverted.cells.centroids.storage)
            if let quantizer = inverted.quantizer { writer.append(quantizer.codebooks) }
            for cell in 0 ..< inverted.cellCount {
                writer.append(UInt32(inverted.cellRows[cell].count))
                writer.append(inverted.cellRows[cell].map { UInt32(bitPattern: $0) })
                if inverted.quantizer != nil { writer.append(bytes: inverted.cellCodes[cell]) }
            }
        case let graph as HNSWIndex:
            writer.append(UInt32(graph.efConstruction))
            writer.append(UInt32(bitPattern: graph.entryPoint))
            writer.append(UInt32(bitPattern: Int32(graph.maxLevel)))
            writer.append(bytes: graph.levels)
            writer.append(UInt64(graph.neighbours.count))
            writer.append(graph.neighbours.map { UInt32(bitPattern: $0) })
        default:
            return
        }
        do {
            try DurableFile.write(writer.sealed(), to: url)
        } catch {
            throw VectorIndexError(code: .io, file: url.path, reason: error.reason)
        }
    }

    /// Loads the index at `url` over `rows`.
    /// - Throws: `.invalidFile` when the file is damaged, is for another factory, or was built from
    ///   another store (its recorded checksum differs), naming the file and what to run.
    public static func load(contentsOf url: URL, factory expected: IndexFactory, rows: DatabaseRows,
                            storeChecksum: UInt32) throws(VectorIndexError) -> any VectorIndex {
        if expected.isExact { return FlatIndex(rows: rows) }
        let bytes = try readFile(url, factory: expected)
        do throws(ASMKError) {
            return try decode(bytes, file: url.path, factory: expected, rows: rows, storeChecksum: storeChecksum,
                              count: rows.count)
        } catch {
            throw VectorIndexError(code: .invalidFile, file: url.path, reason: "\(error.reason); run `landmark index` again to rebuild it")
        }
    }

    /// Extends the index saved at `url`, built over the first `previousCount` of `rows` (whose
    /// checksum was `previousChecksum`), to every row without retraining: the new rows are assigned to
    /// the trained cells, or inserted into the graph, as `build` would add them.
    /// - Returns: nil when the file cannot be reused (missing, damaged, or made from other rows); the
    ///   caller then builds the index afresh.
    public static func extend(contentsOf url: URL, factory: IndexFactory, rows: DatabaseRows, previousCount: Int,
                              previousChecksum: UInt32, progress: ((Int, Int) -> Void)?) -> (any VectorIndex)? {
        guard !factory.isExact else { return FlatIndex(rows: rows) }
        guard previousCount <= rows.count, let bytes = try? readFile(url, factory: factory),
              let previous = try? decode(bytes, file: url.path, factory: factory, rows: rows,
                                         storeChecksum: previousChecksum, count: previousCount) else { return nil }
        switch previous {
        case var inverted as InvertedFileIndex:
            inverted.addRemainingRows(progress: progress)
            return inverted
        case var graph as HNSWIndex:
            graph.addRemainingRows(progress: progress)
            return graph
        default:
            return nil
        }
    }

    private static func readFile(_ url: URL, factory: IndexFactory) throws(VectorIndexError) -> [UInt8] {
        do {
            return try [UInt8](Data(contentsOf: url))
        } catch {
            throw VectorIndexError(code: .invalidFile, file: url.path,
                                   reason: "cannot read the \(factory) index (\(error.localizedDescription)); run `landmark index` again to rebuild it")
        }
    }

    /// Decodes an index file over the first `expectedCount` of `rows` (all of them unless the index is
    /// about to be extended).
    private static func decode(_ bytes: [UInt8], file path: String, factory expected: IndexFactory, rows: DatabaseRows,
                               storeChecksum: UInt32, count expectedCount: Int) throws(ASMKError) -> any VectorIndex {
        func invalid(_ reason: String) -> ASMKError { ASMKError(code: .corrupt, file: path, reason: reason) }
        var reader = try ASMKByteReader(bytes: bytes, file: path, magic: magic, version: formatVersion, kind: "vector index")
        let factoryText = String(decoding: try reader.readBytes(reader.readCount(elementSize: 1)), as: UTF8.self)
        guard factoryText == expected.description else { throw invalid("holds a \(factoryText) index, the manifest says \(expected)") }
        guard try reader.readUInt32() == storeChecksum else { throw invalid("was built from other descriptors than the store's") }
        let dimension = Int(try reader.readUInt64()), count = Int(try reader.readUInt64())
        guard dimension == rows.dimension, count == expectedCount else {
            throw invalid("indexes \(count) × \(dimension) vectors, the store holds \(expectedCount) × \(rows.dimension)")
        }
        let index: any VectorIndex
        switch expected {
        case .flat:
            index = FlatIndex(rows: rows)
        case .invertedFile(let cellCount, let bytesPerCode):
            let centroids = try reader.readFloats(cellCount * dimension)
            var quantizer: ProductQuantizer?
            if let bytesPerCode {
                guard dimension % bytesPerCode == 0 else { throw invalid("PQ\(bytesPerCode) does not divide the dimension \(dimension)") }
                quantizer = ProductQuantizer(dimension: dimension, subquantizers: bytesPerCode,
                                             codebooks: try reader.readFloats(bytesPerCode * ProductQuantizer.centroidsPerSubquantizer * (dimension / bytesPerCode)))
            }
            var cellRows: [[Int32]] = [], cellCodes: [[UInt8]] = []
            var total = 0
            for _ in 0 ..< cellCount {
                let members = try reader.readCount(elementSize: 4)
                let rowsOfCell = try reader.readUInt32s(members).map { Int32(bitPattern: $0) }
                guard rowsOfCell.allSatisfy({ $0 >= 0 && Int($0) < count }) else { throw invalid("a cell names a row outside the store") }
                cellRows.append(rowsOfCell)
                if let quantizer { cellCodes.append(try reader.readBytes(members * quantizer.subquantizers)) }
                total += members
            }
            guard total == count else { throw invalid("its cells hold \(total) rows, not \(count)") }
            index = InvertedFileIndex(factory: expected, cells: VisualVocabulary(centroids: Matrix(rows: cellCount, columns: dimension, storage: centroids)),
                                      quantizer: quantizer, rows: rows, cellRows: cellRows, cellCodes: cellCodes, count: count)
        case .hierarchicalGraph(let links):
            let efConstruction = Int(try reader.readUInt32())
            let entryPoint = Int32(bitPattern: try reader.readUInt32())
            let maxLevel = Int(Int32(bitPattern: try reader.readUInt32()))
            let levels = try reader.readBytes(count)
            var offsets = [Int](), total = 0
            offsets.reserveCapacity(count)
            for level in levels {
                offsets.append(total)
                total += 2 * links + Int(level) * links
            }
            guard Int(try reader.readUInt64()) == total else { throw invalid("its link table does not match the node levels") }
            let neighbours = try reader.readUInt32s(total).map { Int32(bitPattern: $0) }
            guard neighbours.allSatisfy({ $0 >= -1 && Int($0) < count }),
                  (count == 0 && entryPoint == -1) || (entryPoint >= 0 && Int(entryPoint) < count),
                  maxLevel == (levels.map(Int.init).max() ?? -1) else { throw invalid("its graph is inconsistent") }
            index = HNSWIndex(links: links, efConstruction: efConstruction, rows: rows, levels: levels, offsets: offsets,
                              neighbours: neighbours, entryPoint: entryPoint, maxLevel: maxLevel, count: count)
        }
        guard reader.isAtEnd else { throw invalid("it has unexpected trailing bytes") }
        return index
    }
}
