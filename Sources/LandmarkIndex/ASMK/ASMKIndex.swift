import Dispatch
import Foundation
import LandmarkLinearAlgebra

/// Parameters of the aggregated selective match kernel. Defaults are those of the reference
/// implementation (jenicek/asmk, ECCV'20 parameter files).
public struct ASMKConfiguration: Sendable, Equatable {
    /// Exponent α of the selectivity function σ_α(u) = sign(u)·|u|^α: larger α suppresses weak matches.
    public var alpha: Float
    /// Similarity threshold τ: word matches with similarity below τ contribute nothing.
    public var threshold: Float
    /// Visual words per query descriptor (multiple assignment softens quantisation errors).
    public var queryMultipleAssignment: Int
    /// Visual words per database descriptor (1 keeps the inverted file small).
    public var databaseMultipleAssignment: Int
    /// Binarise the aggregated residuals (1 bit per dimension) instead of keeping them as floats.
    public var binary: Bool
    /// Weight each word by idf² = log(N / n_w)² (the reference's `use_idf`; off by default there).
    public var useIDF: Bool

    public init(alpha: Float = 3, threshold: Float = 0, queryMultipleAssignment: Int = 5,
                databaseMultipleAssignment: Int = 1, binary: Bool = true, useIDF: Bool = false) {
        self.alpha = alpha
        self.threshold = threshold
        self.queryMultipleAssignment = queryMultipleAssignment
        self.databaseMultipleAssignment = databaseMultipleAssignment
        self.binary = binary
        self.useIDF = useIDF
    }
}

/// One image as ASMK sees it: one aggregated residual per distinct visual word.
public struct ASMKImageRepresentation: Sendable, Equatable {
    /// Distinct visual words, ascending.
    public var words: [Int]
    /// Binary mode: sign bits of each word's aggregated residual, `codeWords` UInt64 per word,
    /// dimension d at bit 63 − (d mod 64) of word d / 64 (a set bit means a positive component).
    public var codes: [UInt64]
    /// Float mode: each word's L2-normalised aggregated residual, `D` floats per word. Empty in binary mode.
    public var residuals: [Float]

    public init(words: [Int], codes: [UInt64], residuals: [Float]) {
        self.words = words
        self.codes = codes
        self.residuals = residuals
    }
}

/// Aggregated selective match kernel retrieval (Tolias, Avrithis & Jégou, ICCV 2013) over an
/// inverted file, following the reference implementation jenicek/asmk.
///
/// Each image is reduced to one vector per visual word — the sum of its descriptors' residuals to
/// the word's centroid — binarised by sign. Two images are compared only within shared words:
/// the similarity u = 1 − 2·h/B (h the Hamming distance, B the bit length) passes the selectivity
/// function σ_α(u) = sign(u)|u|^α when u ≥ τ, and the per-word results are summed. As in the
/// reference, the sum is normalised by √(number of words of the database image) and
/// √(number of words of the query) (idf-weighted sums of them with `useIDF`).
public struct ASMKIndex: Sendable {
    public let vocabulary: VisualVocabulary
    public let configuration: ASMKConfiguration

    /// Posting lists, one per visual word: image ids, and their codes or residuals in the same order.
    var postingImages: [[UInt32]]
    var postingCodes: [[UInt64]]
    var postingResiduals: [[Float]]
    /// Number of words of each database image.
    var wordCounts: [Int]
    /// idf of every word and 1/√(normaliser) of every image, which depend on the whole index: made
    /// once by ``prepareForSearch()`` (and on load) instead of on every query, which would walk
    /// every posting list. Dropped when an image is added.
    var searchWeights: (idf: [Float], inverseRootNorms: [Float])?

    /// Number of indexed images.
    public var imageCount: Int { wordCounts.count }

    /// UInt64 words per binary code. Bits are compared in the reference's 32-bit blocks (see ``bitLength``).
    public var codeWords: Int { (vocabulary.dimension + 63) / 64 }

    /// Denominator B of the normalised Hamming distance. The reference packs bits into 32-bit
    /// integers and divides by all of their bits, so B = 32·⌈D/32⌉ (= D for 128-D RootSIFT).
    public var bitLength: Int { 32 * ((vocabulary.dimension + 31) / 32) }

    public init(vocabulary: VisualVocabulary, configuration: ASMKConfiguration = .init()) {
        self.vocabulary = vocabulary
        self.configuration = configuration
        postingImages = Array(repeating: [], count: vocabulary.size)
        postingCodes = Array(repeating: [], count: vocabulary.size)
        postingResiduals = Array(repeating: [], count: vocabulary.size)
        wordCounts = []
    }

    /// Quantises and aggregates one image's descriptors.
    ///
    /// A descriptor assigned to several words (multiple assignment) adds its residual to each of them.
    /// - Precondition: `descriptors.columns == vocabulary.dimension` unless there are no descriptors.
    /// - Complexity: O(n × k × D) for assignment plus O(n × assignments × D) aggregation.
    public func represent(_ descriptors: Matrix, multipleAssignment: Int) -> ASMKImageRepresentation {
        guard descriptors.rows > 0, vocabulary.size > 0 else {
            return ASMKImageRepresentation(words: [], codes: [], residuals: [])
        }
        let dimension = vocabulary.dimension
        let assignments = vocabulary.assign(descriptors, count: multipleAssignment)
        var slotOfWord = [Int: Int]()
        var words = [Int]()
        for list in assignments {
            for word in list where slotOfWord[word] == nil {
                slotOfWord[word] = 0
                words.append(word)
            }
        }
        words.sort()
        for (slot, word) in words.enumerated() { slotOfWord[word] = slot }
        var sums = [Float](repeating: 0, count: words.count * dimension)
        descriptors.storage.withUnsafeBufferPointer { rows in
            vocabulary.centroids.storage.withUnsafeBufferPointer { centroids in
                sums.withUnsafeMutableBufferPointer { sums in
                    for (row, list) in assignments.enumerated() {
                        for word in list {
                            guard let slot = slotOfWord[word] else { continue }
                            let target = slot * dimension, source = row * dimension, centre = word * dimension
                            for d in 0 ..< dimension { sums[target + d] += rows[source + d] - centroids[centre + d] }
                        }
                    }
                }
            }
        }
        if configuration.binary {
            let perWord = codeWords
            var codes = [UInt64](repeating: 0, count: words.count * perWord)
            for slot in 0 ..< words.count {
                for d in 0 ..< dimension where sums[slot * dimension + d] > 0 {
                    codes[slot * perWord + d / 64] |= UInt64(1) << UInt64(63 - d % 64)
                }
            }
            return ASMKImageRepresentation(words: words, codes: codes, residuals: [])
        }
        for slot in 0 ..< words.count {
            var norm: Float = 0
            for d in 0 ..< dimension { norm += sums[slot * dimension + d] * sums[slot * dimension + d] }
            // The reference adds 1e-6 to the norm so an all-zero aggregate stays zero.
            let scale = 1 / (norm.squareRoot() + 1e-6)
            for d in 0 ..< dimension { sums[slot * dimension + d] *= scale }
        }
        return ASMKImageRepresentation(words: words, codes: [], residuals: sums)
    }

    /// Indexes one image and returns its id (0, 1, … in the order of addition). An image without
    /// descriptors gets an id but never matches anything.
    public mutating func add(imageDescriptors: Matrix) -> Int {
        add(representation: represent(imageDescriptors, multipleAssignment: configuration.databaseMultipleAssignment))
    }

    /// Indexes an already aggregated image (from ``represent(_:multipleAssignment:)``) and returns its id.
    /// - Precondition: the representation was made with this index's vocabulary and binary setting.
    public mutating func add(representation: ASMKImageRepresentation) -> Int {
        let image = wordCounts.count
        let perWord = codeWords, dimension = vocabulary.dimension
        precondition(representation.words.allSatisfy { $0 >= 0 && $0 < vocabulary.size },
                     "Representation has words outside the \(vocabulary.size)-word vocabulary")
        precondition(configuration.binary
                     ? representation.codes.count == representation.words.count * perWord
                     : representation.residuals.count == representation.words.count * dimension,
                     "Representation does not match the index's dimension or binary setting")
        for (slot, word) in representation.words.enumerated() {
            postingImages[word].append(UInt32(image))
            if configuration.binary {
                postingCodes[word].append(contentsOf: representation.codes[slot * perWord ..< (slot + 1) * perWord])
            } else {
                postingResiduals[word].append(contentsOf: representation.residuals[slot * dimension ..< (slot + 1) * dimension])
            }
        }
        wordCounts.append(representation.words.count)
        searchWeights = nil
        return image
    }

    /// Computes the idf and image normalisers once the index has all its images, so that each query
    /// only visits the posting lists of its own words. Searching without it gives the same scores,
    /// computing them per query.
    public mutating func prepareForSearch() {
        searchWeights = computeSearchWeights()
    }

    func computeSearchWeights() -> (idf: [Float], inverseRootNorms: [Float]) {
        let idf = idfWeights()
        var imageNorms = [Float](repeating: 0, count: imageCount)
        if configuration.useIDF {
            for (word, list) in postingImages.enumerated() { for image in list { imageNorms[Int(image)] += idf[word] } }
        } else {
            for image in 0 ..< imageCount { imageNorms[image] = Float(wordCounts[image]) }
        }
        return (idf, imageNorms.map { $0 > 0 ? 1 / $0.squareRoot() : 0 })
    }

    /// The selectivity function σ_α with threshold τ: 0 below τ, else sign(u)·|u|^α.
    @inlinable
    public static func selectivity(_ similarity: Float, alpha: Float, threshold: Float) -> Float {
        guard similarity >= threshold else { return 0 }
        let magnitude = Float(Foundation.pow(Double(abs(similarity)), Double(alpha)))
        return similarity < 0 ? -magnitude : magnitude
    }

    /// The idf weight of each word: log(N / n_w)² with the reference's `use_idf`, otherwise 1.
    func idfWeights() -> [Float] {
        guard configuration.useIDF else { return [Float](repeating: 1, count: vocabulary.size) }
        let images = Double(imageCount)
        return postingImages.map { list in
            list.isEmpty ? 1 : Float(Foundation.pow(Foundation.log(images / Double(list.count)), 2))
        }
    }

    /// Scores of all database images for the query, normalised as in the reference.
    /// - Complexity: O(Σ over query words of the posting-list length × D/64).
    public func scores(for query: ASMKImageRepresentation) -> [Float] {
        var scores = [Float](repeating: 0, count: imageCount)
        guard !query.words.isEmpty else { return scores }
        precondition(query.words.allSatisfy { $0 >= 0 && $0 < vocabulary.size }
                     && (configuration.binary ? query.codes.count == query.words.count * codeWords
                                              : query.residuals.count == query.words.count * vocabulary.dimension),
                     "Query representation does not match the index's vocabulary or binary setting")
        let (idf, inverseRootNorms) = searchWeights ?? computeSearchWeights()
        let alpha = configuration.alpha, threshold = configuration.threshold
        let perWord = codeWords, dimension = vocabulary.dimension
        // A binary similarity takes one of B + 1 values, so σ_α is tabulated by Hamming distance
        // once per query instead of evaluating a power per posting.
        let bitScale = 2 / Float(bitLength)
        let selectivityByDistance = configuration.binary
            ? (0 ... bitLength).map { Self.selectivity(1 - bitScale * Float($0), alpha: alpha, threshold: threshold) }
            : []
        var queryNorm: Float = 0
        for (slot, word) in query.words.enumerated() {
            queryNorm += idf[word]
            let images = postingImages[word]
            guard !images.isEmpty else { continue }
            if configuration.binary {
                postingCodes[word].withUnsafeBufferPointer { codes in
                    query.codes.withUnsafeBufferPointer { queryCodes in
                        for (entry, image) in images.enumerated() {
                            var distance = 0
                            for part in 0 ..< perWord {
                                distance += (codes[entry * perWord + part] ^ queryCodes[slot * perWord + part]).nonzeroBitCount
                            }
                            scores[Int(image)] += selectivityByDistance[distance] * idf[word] * inverseRootNorms[Int(image)]
                        }
                    }
                }
            } else {
                postingResiduals[word].withUnsafeBufferPointer { residuals in
                    query.residuals.withUnsafeBufferPointer { queryResiduals in
                        for (entry, image) in images.enumerated() {
                            var similarity: Float = 0
                            for d in 0 ..< dimension {
                                similarity += residuals[entry * dimension + d] * queryResiduals[slot * dimension + d]
                            }
                            let weight = Self.selectivity(similarity, alpha: alpha, threshold: threshold)
                            scores[Int(image)] += weight * idf[word] * inverseRootNorms[Int(image)]
                        }
                    }
                }
            }
        }
        if queryNorm > 0 {
            let scale = 1 / queryNorm.squareRoot()
            for image in 0 ..< scores.count { scores[image] *= scale }
        }
        return scores
    }

    /// The `k` best database images for an aggregated query (`represent`), best first; ties go to
    /// the smaller image id. Returns nothing for a query without words.
    public func search(representation: ASMKImageRepresentation, k: Int) -> [Neighbor] {
        guard k > 0, !representation.words.isEmpty, imageCount > 0 else { return [] }
        let all = scores(for: representation)
        // Bounded selection, same order as a full sort (score, then the smaller image id).
        return all.withUnsafeBufferPointer { topK($0, k: k) }
    }

    // MARK: - Files

    static let magic: [UInt8] = Array("LMASMKIX".utf8)
    static let formatVersion: UInt32 = 1

    /// Writes the index — configuration, vocabulary, per-image word counts and inverted file —
    /// atomically, with a CRC-32 over the whole content.
    public func write(to url: URL) throws(ASMKError) {
        var writer = ASMKByteWriter(magic: Self.magic, version: Self.formatVersion)
        writer.append(configuration.alpha)
        writer.append(configuration.threshold)
        writer.append(UInt32(configuration.queryMultipleAssignment))
        writer.append(UInt32(configuration.databaseMultipleAssignment))
        writer.append(UInt32((configuration.binary ? 1 : 0) | (configuration.useIDF ? 2 : 0)))
        vocabulary.encode(into: &writer)
        writer.append(UInt32(wordCounts.count))
        writer.append(wordCounts.map { UInt32($0) })
        for word in 0 ..< vocabulary.size {
            writer.append(UInt32(postingImages[word].count))
            writer.append(postingImages[word])
            if configuration.binary { writer.append(postingCodes[word]) } else { writer.append(postingResiduals[word]) }
        }
        try ASMKFile.writeAtomically(writer.sealed(), to: url)
    }

    /// Reads an index written by ``write(to:)``.
    /// - Throws: `.notFound`, `.badMagic`, `.unsupportedVersion`, `.truncated`, `.checksumMismatch`, `.corrupt`, `.io`.
    public static func load(contentsOf url: URL) throws(ASMKError) -> ASMKIndex {
        var reader = try ASMKByteReader(bytes: try ASMKFile.read(url), file: url.path, magic: magic,
                                        version: formatVersion, kind: "index")
        let alpha = try reader.readFloat()
        let threshold = try reader.readFloat()
        let queryAssignment = Int(try reader.readUInt32())
        let databaseAssignment = Int(try reader.readUInt32())
        let flags = try reader.readUInt32()
        let configuration = ASMKConfiguration(alpha: alpha, threshold: threshold, queryMultipleAssignment: queryAssignment,
                                              databaseMultipleAssignment: databaseAssignment,
                                              binary: flags & 1 != 0, useIDF: flags & 2 != 0)
        let vocabulary = try VisualVocabulary.decode(from: &reader)
        var index = ASMKIndex(vocabulary: vocabulary, configuration: configuration)
        let images = try reader.readCount(elementSize: 4)
        index.wordCounts = try reader.readUInt32s(images).map { Int($0) }
        let perWord = index.codeWords, dimension = vocabulary.dimension
        var entriesPerImage = [Int](repeating: 0, count: images)
        for word in 0 ..< vocabulary.size {
            let entries = try reader.readCount(elementSize: 4)
            let ids = try reader.readUInt32s(entries)
            for id in ids {
                guard Int(id) < images else {
                    throw ASMKError(code: .corrupt, file: url.path, reason: "word \(word) lists image \(id) of \(images) — rebuild the index")
                }
                entriesPerImage[Int(id)] += 1
            }
            index.postingImages[word] = ids
            if configuration.binary {
                index.postingCodes[word] = try reader.readUInt64s(try checkedProduct(entries, perWord, url))
            } else {
                index.postingResiduals[word] = try reader.readFloats(try checkedProduct(entries, dimension, url))
            }
        }
        guard reader.isAtEnd, entriesPerImage == index.wordCounts else {
            throw ASMKError(code: .corrupt, file: url.path, reason: "inverted file and word counts disagree — rebuild the index")
        }
        index.prepareForSearch()
        return index
    }

    private static func checkedProduct(_ a: Int, _ b: Int, _ url: URL) throws(ASMKError) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow, product <= 1 << 40 else {
            throw ASMKError(code: .truncated, file: url.path, reason: "section size overflows — rebuild the index")
        }
        return product
    }
}

extension ASMKIndex: SearchIndex {
    /// Images indexed.
    public var count: Int { imageCount }

    /// The `k` best database images for each query image, given as its local descriptors (rows of
    /// `vocabulary.dimension` components, aggregated with the configuration's query multiple
    /// assignment); a query without descriptors gets no results. Query images are spread over
    /// `parameters.threads` cores (all when nil); the other parameters do not apply.
    public func search(_ queries: [Matrix], k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        let threads = max(1, min(parameters.threads ?? ProcessInfo.processInfo.activeProcessorCount, queries.count))
        guard threads > 1 else {
            return queries.map { search(representation: represent($0, multipleAssignment: configuration.queryMultipleAssignment), k: k) }
        }
        let results = ResultSlots<[Neighbor]>(count: queries.count, initial: [])
        let index = self
        DispatchQueue.concurrentPerform(iterations: threads) { worker in
            for query in stride(from: worker, to: queries.count, by: threads) {
                let representation = index.represent(queries[query], multipleAssignment: index.configuration.queryMultipleAssignment)
                results.set(query, index.search(representation: representation, k: k))
            }
        }
        return results.values
    }
}
