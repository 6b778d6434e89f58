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
        guard case .invertedFile(let cells, let bytes, _) = factory else { return }
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
            if let rotation = inverted.rotation { writer.append(rotation.rotation.storage) }
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
        // Additions for these rows would be read in preference to the file just written.
        try? FileManager.default.removeItem(at: additionsURL(for: url, storeChecksum: storeChecksum))
    }

    /// Loads the index at `url` over `rows` — with the rows added to it since, when an additions file
    /// for `storeChecksum` is beside it (`writeExtension`).
    /// - Throws: `.invalidFile` when a file is damaged, is for another factory, or was built from
    ///   another store (its recorded checksum differs), naming the file and what to run.
    public static func load(contentsOf url: URL, factory expected: IndexFactory, rows: DatabaseRows,
                            storeChecksum: UInt32) throws(VectorIndexError) -> any VectorIndex {
        if expected.isExact { return FlatIndex(rows: rows) }
        return try load(url, factory: expected, rows: rows, storeChecksum: storeChecksum, count: rows.count)
    }

    /// The first `count` of `rows` from the file at `url` and, when one matches `storeChecksum`, its
    /// additions file.
    private static func load(_ url: URL, factory: IndexFactory, rows: DatabaseRows, storeChecksum: UInt32,
                             count: Int) throws(VectorIndexError) -> any VectorIndex {
        func failure(_ file: URL, _ error: ASMKError) -> VectorIndexError {
            VectorIndexError(code: .invalidFile, file: file.path, reason: "\(error.reason); run `landmark index` again to rebuild it")
        }
        let additionsURL = additionsURL(for: url, storeChecksum: storeChecksum)
        if FileManager.default.fileExists(atPath: additionsURL.path) {
            let additions: Additions
            let additionsBytes = try readFile(additionsURL, factory: factory)
            do throws(ASMKError) {
                additions = try readAdditions(additionsBytes, file: additionsURL.path, factory: factory)
                guard additions.checksum == storeChecksum, additions.count == count else {
                    throw ASMKError(code: .corrupt, file: additionsURL.path, reason: "covers \(additions.count) rows, not \(count)")
                }
            } catch {
                throw failure(additionsURL, error)
            }
            let base: any VectorIndex
            let baseBytes = try readFile(url, factory: factory)
            do throws(ASMKError) {
                base = try decode(baseBytes, file: url.path, factory: factory, rows: rows,
                                  storeChecksum: additions.baseChecksum, count: additions.baseCount)
            } catch {
                throw failure(url, error)
            }
            switch (base, additions.payload) {
            case (var inverted as InvertedFileIndex, .invertedFile(let cells, let codes)):
                inverted.appendAssignedRows(cells: cells, codes: codes)
                return inverted
            case (var graph as HNSWIndex, .graph(let change)):
                guard graph.apply(change, rowCount: rows.count) else {
                    throw failure(additionsURL, ASMKError(code: .corrupt, file: additionsURL.path, reason: "its links do not fit the graph it extends"))
                }
                return graph
            default:
                throw VectorIndexError(code: .invalidFile, file: url.path, reason: "does not match its additions file; run `landmark index` again to rebuild it")
            }
        }
        let bytes = try readFile(url, factory: factory)
        do throws(ASMKError) {
            return try decode(bytes, file: url.path, factory: factory, rows: rows,
                              storeChecksum: storeChecksum, count: count)
        } catch {
            throw failure(url, error)
        }
    }

    // MARK: - Additions to an index

    /// Rows added to an index since its main file was written: for an inverted file each row's cell
    /// and code, for a graph the new nodes and the links of earlier nodes that changed
    /// (`HNSWIndex.Extension`). Kept beside the main file and named after the stored rows' checksum,
    /// so that an update killed before its manifest leaves the previous additions file — the one the
    /// manifest still matches — in place, and adding 1 % of the rows writes about 1 % of the index
    /// instead of all of it.
    struct Additions {
        enum Payload {
            case invertedFile(cells: [UInt32], codes: [UInt8])
            case graph(HNSWIndex.Extension)
        }
        var baseChecksum: UInt32
        var baseCount: Int
        var checksum: UInt32
        var count: Int
        var payload: Payload
    }

    static let additionsMagic: [UInt8] = Array("LMVECADD".utf8)

    /// `vector-index+<checksum>.lmx` beside `url`.
    public static func additionsURL(for url: URL, storeChecksum: UInt32) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(
            url.deletingPathExtension().lastPathComponent + "+" + String(format: "%08x", storeChecksum) + "." + url.pathExtension)
    }

    /// Removes the additions files of `url` except the one for `storeChecksum` (all of them when nil):
    /// after a manifest naming other rows is committed, or when the index is rebuilt or dropped.
    public static func removeAdditions(of url: URL, keeping storeChecksum: UInt32?) {
        let directory = url.deletingLastPathComponent()
        let prefix = url.deletingPathExtension().lastPathComponent + "+"
        let kept = storeChecksum.map { additionsURL(for: url, storeChecksum: $0).lastPathComponent }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        where name.hasPrefix(prefix) && name.hasSuffix("." + url.pathExtension) && name != kept {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    private static func readAdditions(_ bytes: [UInt8], file: String, factory: IndexFactory) throws(ASMKError) -> Additions {
        var reader = try ASMKByteReader(bytes: bytes, file: file, magic: additionsMagic, version: formatVersion, kind: "vector index additions")
        let factoryText = String(decoding: try reader.readBytes(reader.readCount(elementSize: 1)), as: UTF8.self)
        guard factoryText == factory.description else {
            throw ASMKError(code: .corrupt, file: file, reason: "holds additions to a \(factoryText) index, the manifest says \(factory)")
        }
        let baseChecksum = try reader.readUInt32()
        let baseCount = Int(try reader.readUInt64())
        let checksum = try reader.readUInt32()
        let count = Int(try reader.readUInt64())
        guard baseCount <= count else { throw ASMKError(code: .corrupt, file: file, reason: "adds a negative number of rows") }
        let payload: Additions.Payload
        switch factory {
        case .invertedFile(let cellCount, let bytesPerCode, _):
            let cells = try reader.readUInt32s(count - baseCount)
            let codes = try reader.readBytes((count - baseCount) * (bytesPerCode ?? 0))
            if cells.contains(where: { Int($0) >= cellCount }) {
                throw ASMKError(code: .corrupt, file: file, reason: "names a cell the index does not have")
            }
            payload = .invertedFile(cells: cells, codes: codes)
        case .hierarchicalGraph:
            let entryPoint = Int32(bitPattern: try reader.readUInt32())
            let maxLevel = Int(Int32(bitPattern: try reader.readUInt32()))
            let levels = try reader.readBytes(count - baseCount)
            let neighbours = try reader.readUInt32s(reader.readCount(elementSize: 4)).map { Int32(bitPattern: $0) }
            let changed = try reader.readCount(elementSize: 8)
            let slots = try reader.readUInt32s(changed)
            let values = try reader.readUInt32s(changed).map { Int32(bitPattern: $0) }
            payload = .graph(HNSWIndex.Extension(entryPoint: entryPoint, maxLevel: maxLevel, levels: levels, neighbours: neighbours,
                                                 changedSlots: slots, changedValues: values))
        case .flat:
            throw ASMKError(code: .corrupt, file: file, reason: "an exact index has no additions file")
        }
        guard reader.isAtEnd else { throw ASMKError(code: .corrupt, file: file, reason: "it has unexpected trailing bytes") }
        return Additions(baseChecksum: baseChecksum, baseCount: baseCount, checksum: checksum, count: count, payload: payload)
    }

    /// Saves `index` after `extend` grew it: when the main file at `url` is intact and `index` extends
    /// it, only what changed since that file was written (an additions file); otherwise the whole
    /// index (`write`).
    public static func writeExtension(_ index: any VectorIndex, storeChecksum: UInt32, to url: URL) throws(VectorIndexError) {
        guard let bytes = try? readFile(url, factory: index.factory),
              var reader = try? ASMKByteReader(bytes: bytes, file: url.path, magic: magic, version: formatVersion, kind: "vector index"),
              let length = try? reader.readCount(elementSize: 1), let factoryBytes = try? reader.readBytes(length),
              String(decoding: factoryBytes, as: UTF8.self) == index.factory.description,
              let baseChecksum = try? reader.readUInt32(), (try? reader.readUInt64()) == UInt64(index.dimension),
              let baseCount = (try? reader.readUInt64()).map({ Int($0) }), baseCount <= index.count
        else { return try write(index, storeChecksum: storeChecksum, to: url) }
        var writer = ASMKByteWriter(magic: additionsMagic, version: formatVersion)
        writer.append(UInt32(factoryBytes.count))
        writer.append(bytes: factoryBytes)
        writer.append(baseChecksum)
        writer.append(UInt64(baseCount))
        writer.append(storeChecksum)
        writer.append(UInt64(index.count))
        switch index {
        case let inverted as InvertedFileIndex:
            let (cells, codes) = inverted.assignedRows(from: baseCount)
            writer.append(cells)
            writer.append(bytes: codes)
        case let graph as HNSWIndex:
            guard let base = try? decode(bytes, file: url.path, factory: index.factory, rows: graph.rows, storeChecksum: baseChecksum,
                                         count: baseCount) as? HNSWIndex,
                  let change = graph.extensionSince(base)
            else { return try write(index, storeChecksum: storeChecksum, to: url) }
            writer.append(UInt32(bitPattern: change.entryPoint))
            writer.append(UInt32(bitPattern: Int32(change.maxLevel)))
            writer.append(bytes: change.levels)
            writer.append(UInt32(change.neighbours.count))
            writer.append(change.neighbours.map { UInt32(bitPattern: $0) })
            writer.append(UInt32(change.changedSlots.count))
            writer.append(change.changedSlots)
            writer.append(change.changedValues.map { UInt32(bitPattern: $0) })
        default:
            return try write(index, storeChecksum: storeChecksum, to: url)
        }
        let additionsURL = additionsURL(for: url, storeChecksum: storeChecksum)
        do {
            try DurableFile.write(writer.sealed(), to: additionsURL)
        } catch {
            throw VectorIndexError(code: .io, file: additionsURL.path, reason: error.reason)
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
        guard previousCount <= rows.count,
              let previous = try? load(url, factory: factory, rows: rows, storeChecksum: previousChecksum, count: previousCount)
        else { return nil }
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
        case .invertedFile(let cellCount, let bytesPerCode, let rotated):
            let centroids = try reader.readFloats(cellCount * dimension)
            var quantizer: ProductQuantizer?
            if let bytesPerCode {
                guard dimension % bytesPerCode == 0 else { throw invalid("PQ\(bytesPerCode) does not divide the dimension \(dimension)") }
                quantizer = ProductQuantizer(dimension: dimension, subquantizers: bytesPerCode,
                                             codebooks: try reader.readFloats(bytesPerCode * ProductQuantizer.centroidsPerSubquantizer * (dimension / bytesPerCode)))
            }
            var rotation: OptimizedProductQuantization?
            if rotated {
                let matrix = Matrix(rows: dimension, columns: dimension, storage: try reader.readFloats(dimension * dimension))
                guard matrix.storage.allSatisfy(\.isFinite) else { throw invalid("its OPQ rotation is not finite") }
                rotation = OptimizedProductQuantization(rotation: matrix)
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
                                      quantizer: quantizer, rotation: rotation, rows: rows, cellRows: cellRows, cellCodes: cellCodes, count: count)
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
