import Foundation
import LandmarkLinearAlgebra

/// A visual vocabulary (codebook): `k` centroids in descriptor space. Local descriptors are
/// quantised to their nearest centroids ("visual words"), which is what lets ASMK compare only
/// descriptors that fall into the same cell.
public struct VisualVocabulary: Sendable, Equatable {
    /// One centroid per row: `k × D`.
    public let centroids: Matrix
    /// Squared norms of the centroids, cached because every assignment needs them.
    let centroidSquaredNorms: [Float]

    /// Number of visual words.
    public var size: Int { centroids.rows }
    /// Descriptor dimension.
    public var dimension: Int { centroids.columns }

    /// A vocabulary over given centroids (e.g. trained elsewhere).
    public init(centroids: Matrix) {
        self.centroids = centroids
        centroidSquaredNorms = Self.squaredRowNorms(centroids)
    }

    public static func == (lhs: VisualVocabulary, rhs: VisualVocabulary) -> Bool {
        lhs.centroids == rhs.centroids
    }

    /// Rows per block of the distance computation: bounds the `rows × k` score buffer.
    static let blockRows = 1024

    /// k-means with k-means++ initialisation and Lloyd iterations.
    ///
    /// Distances come from one BLAS product per block of descriptors (`‖x‖² − 2x·c + ‖c‖²`).
    /// A cluster that loses all its members is re-seeded at the descriptor farthest from its
    /// current centroid, which is the point the model explains worst. Training stops early when
    /// no assignment changes.
    /// - Parameters:
    ///   - descriptors: training descriptors, one per row.
    ///   - k: number of visual words.
    ///   - iterations: maximum Lloyd iterations.
    ///   - seed: fixes the random sample and the k-means++ draws, so training is reproducible.
    ///   - maximumSamples: training uses a seeded random subset of at most this many rows.
    /// - Throws: `.invalidArgument` when there are fewer distinct rows than `k` or `k < 1`,
    ///   `.nonFinite` for NaN or infinite input.
    /// - Complexity: O(iterations × n × k × D) with n = min(rows, maximumSamples).
    public static func train(_ descriptors: Matrix, size k: Int, iterations: Int = 20, seed: UInt64 = 0,
                             maximumSamples: Int = 200_000, seeding: Seeding = .kMeansPlusPlus) throws(ASMKError) -> VisualVocabulary {
        let operation = "VisualVocabulary.train"
        guard k >= 1 else {
            throw ASMKError(code: .invalidArgument, file: operation, reason: "vocabulary size must be at least 1, got \(k)")
        }
        guard descriptors.columns >= 1 else {
            throw ASMKError(code: .invalidArgument, file: operation, reason: "descriptors have no dimensions")
        }
        guard descriptors.rows >= k else {
            throw ASMKError(code: .invalidArgument, file: operation,
                            reason: "\(descriptors.rows) training descriptors cannot make \(k) words — give at least k descriptors")
        }
        guard descriptors.storage.allSatisfy({ $0.isFinite }) else {
            throw ASMKError(code: .nonFinite, file: operation, reason: "training descriptors contain NaN or infinity")
        }
        var random = SplitMix64(seed: seed)
        let sample = sampledRows(descriptors, maximum: max(maximumSamples, k), random: &random)
        let n = sample.rows, dimension = sample.columns
        let sampleNorms = squaredRowNorms(sample)

        var centroids: Matrix
        switch seeding {
        case .kMeansPlusPlus:
            centroids = try kMeansPlusPlus(sample, sampleNorms: sampleNorms, k: k, random: &random)
        case .randomRows:
            centroids = sampledRows(sample, maximum: k, random: &random)
        case .centroids(let initial):
            guard initial.rows == k, initial.columns == dimension else {
                throw ASMKError(code: .invalidArgument, file: operation,
                                reason: "the \(initial.rows) × \(initial.columns) starting centroids do not match k = \(k) words of \(dimension) components")
            }
            centroids = initial
        }
        var assignment = [Int](repeating: -1, count: n)
        var distances = [Float](repeating: 0, count: n)
        for _ in 0 ..< max(iterations, 0) {
            let changed = nearest(sample, sampleNorms: sampleNorms, centroids: centroids,
                                  assignment: &assignment, distances: &distances)
            if !changed { break }
            // Update: mean of the members of each cluster.
            var sums = [Float](repeating: 0, count: k * dimension)
            var counts = [Int](repeating: 0, count: k)
            sample.storage.withUnsafeBufferPointer { rows in
                sums.withUnsafeMutableBufferPointer { sums in
                    for row in 0 ..< n {
                        let cluster = assignment[row]
                        counts[cluster] += 1
                        let target = cluster * dimension, source = row * dimension
                        for d in 0 ..< dimension { sums[target + d] += rows[source + d] }
                    }
                }
            }
            var taken = Set<Int>()
            for cluster in 0 ..< k {
                if counts[cluster] > 0 {
                    let scale = 1 / Float(counts[cluster])
                    for d in 0 ..< dimension { centroids.storage[cluster * dimension + d] = sums[cluster * dimension + d] * scale }
                } else {
                    // Re-seed at the worst-explained descriptor not already used for another empty cluster.
                    var farthest = -1
                    var farthestDistance = -Float.infinity
                    for row in 0 ..< n where !taken.contains(row) && distances[row] > farthestDistance {
                        farthest = row
                        farthestDistance = distances[row]
                    }
                    guard farthest >= 0 else { continue }
                    taken.insert(farthest)
                    distances[farthest] = 0
                    for d in 0 ..< dimension { centroids.storage[cluster * dimension + d] = sample.storage[farthest * dimension + d] }
                }
            }
        }
        return VisualVocabulary(centroids: centroids)
    }

    /// How the first centroids are chosen.
    public enum Seeding: Sendable {
        /// k-means++ (better vocabularies; k matrix-vector passes over the sample).
        case kMeansPlusPlus
        /// k distinct sample rows drawn at random, as FAISS does; for the thousands of cells of an
        /// inverted file, where k-means++ would cost more than the Lloyd iterations.
        case randomRows
        /// These centroids (a hot start, e.g. from the previous round of an alternating optimisation).
        case centroids(Matrix)
    }

    /// The nearest word of every descriptor (squared L2, ties to the smaller word), in one pass of
    /// blocked BLAS products; cheaper than `assign` when one word per descriptor is wanted.
    public func nearestWords(_ descriptors: Matrix) -> [Int32] {
        guard descriptors.rows > 0, size > 0 else { return [Int32](repeating: 0, count: descriptors.rows) }
        precondition(descriptors.columns == dimension,
                     "Descriptors have dimension \(descriptors.columns), vocabulary has \(dimension)")
        var result = [Int32](repeating: 0, count: descriptors.rows)
        Self.forEachNearest(descriptors, centroids: centroids, centroidNorms: centroidSquaredNorms) { row, word, _ in
            result[row] = Int32(word)
        }
        return result
    }

    /// The `count` nearest visual words of every descriptor, nearest first (squared L2; ties go to
    /// the smaller word index). `count` is clamped to the vocabulary size.
    /// - Precondition: `descriptors.columns == dimension` unless there are no descriptors.
    /// - Complexity: O(rows × k × D) in BLAS plus O(rows × k × count) selection.
    public func assign(_ descriptors: Matrix, count: Int = 1) -> [[Int]] {
        guard descriptors.rows > 0, size > 0 else { return [[Int]](repeating: [], count: descriptors.rows) }
        precondition(descriptors.columns == dimension,
                     "Descriptors have dimension \(descriptors.columns), vocabulary has \(dimension)")
        let wanted = min(max(count, 1), size)
        var result = [[Int]]()
        result.reserveCapacity(descriptors.rows)
        let k = size
        var products = [Float](repeating: 0, count: Self.blockRows * k)
        var bestWords = [Int](repeating: 0, count: wanted)
        var bestDistances = [Float](repeating: 0, count: wanted)
        for blockStart in stride(from: 0, to: descriptors.rows, by: Self.blockRows) {
            let blockCount = min(Self.blockRows, descriptors.rows - blockStart)
            Self.blockProducts(descriptors, firstRow: blockStart, rowCount: blockCount, centroids: centroids, into: &products)
            products.withUnsafeBufferPointer { products in
                centroidSquaredNorms.withUnsafeBufferPointer { norms in
                    for local in 0 ..< blockCount {
                        // ‖x‖² is the same for every word, so ranking by ‖c‖² − 2x·c suffices.
                        var filled = 0
                        let base = local * k
                        for word in 0 ..< k {
                            let distance = norms[word] - 2 * products[base + word]
                            if filled == wanted && distance >= bestDistances[wanted - 1] { continue }
                            var position = filled == wanted ? wanted - 1 : filled
                            if filled < wanted { filled += 1 }
                            while position > 0 && bestDistances[position - 1] > distance {
                                bestDistances[position] = bestDistances[position - 1]
                                bestWords[position] = bestWords[position - 1]
                                position -= 1
                            }
                            bestDistances[position] = distance
                            bestWords[position] = word
                        }
                        result.append(Array(bestWords[0 ..< filled]))
                    }
                }
            }
        }
        return result
    }

    // MARK: - Training steps

    static func squaredRowNorms(_ matrix: Matrix) -> [Float] {
        var norms = [Float](repeating: 0, count: matrix.rows)
        matrix.storage.withUnsafeBufferPointer { values in
            for row in 0 ..< matrix.rows {
                var sum: Float = 0
                let base = row * matrix.columns
                for column in 0 ..< matrix.columns { sum += values[base + column] * values[base + column] }
                norms[row] = sum
            }
        }
        return norms
    }

    /// A seeded random subset of the rows (all rows, in order, when there are few enough).
    static func sampledRows(_ matrix: Matrix, maximum: Int, random: inout SplitMix64) -> Matrix {
        guard matrix.rows > maximum else { return matrix }
        var indices = Array(0 ..< matrix.rows)
        for position in 0 ..< maximum {
            let other = position + Int(random.next() % UInt64(matrix.rows - position))
            indices.swapAt(position, other)
        }
        let chosen = indices[0 ..< maximum].sorted()
        var storage = [Float]()
        storage.reserveCapacity(maximum * matrix.columns)
        for row in chosen { storage.append(contentsOf: matrix.storage[row * matrix.columns ..< (row + 1) * matrix.columns]) }
        return Matrix(rows: maximum, columns: matrix.columns, storage: storage)
    }

    /// k-means++ seeding: each new centroid is drawn with probability proportional to the squared
    /// distance to the nearest centroid chosen so far.
    /// - Complexity: O(k × n × D), as k matrix-vector products.
    static func kMeansPlusPlus(_ sample: Matrix, sampleNorms: [Float], k: Int,
                               random: inout SplitMix64) throws(ASMKError) -> Matrix {
        let n = sample.rows, dimension = sample.columns
        var centroids = Matrix(rows: k, columns: dimension)
        var nearestDistances = [Float](repeating: .infinity, count: n)
        var dots = [Float](repeating: 0, count: n)
        var chosen = Int(random.next() % UInt64(n))
        for cluster in 0 ..< k {
            for d in 0 ..< dimension { centroids.storage[cluster * dimension + d] = sample.storage[chosen * dimension + d] }
            guard cluster + 1 < k else { break }
            // Distances to the new centroid from one BLAS matrix-vector product: ‖x‖² − 2x·c + ‖c‖².
            // Cancellation leaves rounding noise for points equal to c, so distances within that
            // noise count as zero (such points are never drawn again).
            var total: Double = 0
            let centre = Array(sample.storage[chosen * dimension ..< (chosen + 1) * dimension])
            let centreNorm = sampleNorms[chosen]
            sample.storage.withUnsafeBufferPointer { rows in
                centre.withUnsafeBufferPointer { centre in
                    dots.withUnsafeMutableBufferPointer { dots in
                        guard let rows = rows.baseAddress, let centre = centre.baseAddress, let dots = dots.baseAddress else { return }
                        BLAS.gemv(transpose: false, rows: n, columns: dimension, alpha: 1, a: rows, lda: dimension,
                                  x: centre, beta: 0, y: dots)
                    }
                }
            }
            for row in 0 ..< n {
                let scale = sampleNorms[row] + centreNorm
                var distance = scale - 2 * dots[row]
                if distance <= 1e-6 * scale { distance = 0 }
                if distance < nearestDistances[row] { nearestDistances[row] = distance }
                total += Double(nearestDistances[row])
            }
            guard total > 0 else {
                throw ASMKError(code: .invalidArgument, file: "VisualVocabulary.train",
                                reason: "only \(cluster + 1) distinct training descriptors for \(k) words — use a smaller vocabulary or more data")
            }
            let target = random.nextUnit() * total
            var cumulative: Double = 0
            chosen = -1
            for row in 0 ..< n where nearestDistances[row] > 0 {
                cumulative += Double(nearestDistances[row])
                chosen = row
                if cumulative > target { break }
            }
        }
        return centroids
    }

    /// Assigns each sample row to its nearest centroid; returns whether any assignment changed.
    static func nearest(_ sample: Matrix, sampleNorms: [Float], centroids: Matrix,
                        assignment: inout [Int], distances: inout [Float]) -> Bool {
        var changed = false
        forEachNearest(sample, centroids: centroids, centroidNorms: squaredRowNorms(centroids)) { row, best, bestDistance in
            if assignment[row] != best { changed = true; assignment[row] = best }
            distances[row] = max(bestDistance + sampleNorms[row], 0)
        }
        return changed
    }

    /// Calls `visit(row, nearest centroid, ‖c‖² − 2x·c)` for every row (squared L2 up to the row's
    /// own ‖x‖²; ties go to the smaller centroid), one blocked BLAS product at a time.
    static func forEachNearest(_ rows: Matrix, centroids: Matrix, centroidNorms: [Float],
                               _ visit: (_ row: Int, _ nearest: Int, _ distance: Float) -> Void) {
        let k = centroids.rows
        var products = [Float](repeating: 0, count: blockRows * k)
        for blockStart in stride(from: 0, to: rows.rows, by: blockRows) {
            let blockCount = min(blockRows, rows.rows - blockStart)
            blockProducts(rows, firstRow: blockStart, rowCount: blockCount, centroids: centroids, into: &products)
            products.withUnsafeBufferPointer { products in
                for local in 0 ..< blockCount {
                    var best = 0
                    var bestDistance = Float.infinity
                    let base = local * k
                    for word in 0 ..< k {
                        let distance = centroidNorms[word] - 2 * products[base + word]
                        if distance < bestDistance { bestDistance = distance; best = word }
                    }
                    visit(blockStart + local, best, bestDistance)
                }
            }
        }
    }

    /// `products[r × k + j] = x_(firstRow + r) · c_j` for one block of rows, via one BLAS product.
    static func blockProducts(_ descriptors: Matrix, firstRow: Int, rowCount: Int, centroids: Matrix,
                              into products: inout [Float]) {
        let dimension = descriptors.columns, k = centroids.rows
        descriptors.storage.withUnsafeBufferPointer { a in
            centroids.storage.withUnsafeBufferPointer { b in
                products.withUnsafeMutableBufferPointer { c in
                    guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
                    BLAS.gemmOnAllCores(transposeA: false, transposeB: true, m: rowCount, n: k, k: dimension, alpha: 1,
                                        a: a + firstRow * dimension, lda: dimension, b: b, ldb: dimension,
                                        beta: 0, c: c, ldc: k)
                }
            }
        }
    }

    // MARK: - Files

    static let magic: [UInt8] = Array("LMASMKVO".utf8)
    static let formatVersion: UInt32 = 1

    /// Writes the vocabulary (magic, version, k, D, centroids, CRC-32) atomically.
    public func write(to url: URL) throws(ASMKError) {
        var writer = ASMKByteWriter(magic: Self.magic, version: Self.formatVersion)
        encode(into: &writer)
        try ASMKFile.writeAtomically(writer.sealed(), to: url)
    }

    /// Reads a vocabulary written by ``write(to:)``.
    /// - Throws: `.notFound`, `.badMagic`, `.unsupportedVersion`, `.truncated`, `.checksumMismatch`, `.corrupt`, `.io`.
    public static func load(contentsOf url: URL) throws(ASMKError) -> VisualVocabulary {
        var reader = try ASMKByteReader(bytes: try ASMKFile.read(url), file: url.path, magic: magic,
                                        version: formatVersion, kind: "vocabulary")
        let vocabulary = try decode(from: &reader)
        guard reader.isAtEnd else {
            throw ASMKError(code: .corrupt, file: url.path, reason: "unexpected bytes after the centroids — rebuild the vocabulary")
        }
        return vocabulary
    }

    func encode(into writer: inout ASMKByteWriter) {
        writer.append(UInt32(size))
        writer.append(UInt32(dimension))
        writer.append(centroids.storage)
    }

    static func decode(from reader: inout ASMKByteReader) throws(ASMKError) -> VisualVocabulary {
        let k = Int(try reader.readUInt32())
        let dimension = Int(try reader.readUInt32())
        let (count, overflow) = k.multipliedReportingOverflow(by: dimension)
        guard !overflow, count.multipliedReportingOverflow(by: 4).partialValue <= reader.bytes.count else {
            throw ASMKError(code: .truncated, file: reader.file, reason: "\(k) × \(dimension) centroids do not fit in the file — rebuild it")
        }
        let values = try reader.readFloats(count)
        return VisualVocabulary(centroids: Matrix(rows: k, columns: dimension, storage: values))
    }
}
