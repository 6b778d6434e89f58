import Dispatch
import Foundation
import CMemoryHints
import LandmarkLinearAlgebra

/// Hierarchical navigable small-world graph (Malkov & Yashunin, 2018; METHODS.md §10): every vector
/// is a node with links to similar nodes on layer 0 (up to 2M) and on the sparser layers above it
/// (up to M each). A query descends greedily from the top layer, then runs a beam search of width
/// `efSearch` on layer 0.
///
/// Similarity is the inner product of the stored rows, which stay in the store (read in place);
/// the graph adds `4 × (2M + M × level)` bytes per vector. Links are chosen with the paper's
/// heuristic (a candidate is dropped when it is more similar to an already linked node than to the
/// new one), as FAISS and hnswlib do.
public struct HNSWIndex: VectorIndex {
    /// M: links per node on the upper layers (twice as many on layer 0).
    public let links: Int
    /// Beam width while inserting (FAISS's `efConstruction`).
    public let efConstruction: Int
    let rows: DatabaseRows
    /// The top layer of each node.
    var levels: [UInt8]
    /// Where each node's link slots start in `neighbours`.
    var offsets: [Int]
    /// Link slots, `-1` where unused: layer 0 (2M slots), then layers 1… (M slots each).
    var neighbours: [Int32]
    var entryPoint: Int32
    var maxLevel: Int
    /// Nodes inserted so far (rows `0 ..< count` of the store).
    public private(set) var count: Int

    public static let defaultEfConstruction = 40
    /// Beam width of a search when the parameters do not say (at least k is used).
    public static let defaultEfSearch = 64

    public var factory: IndexFactory { .hierarchicalGraph(links: links) }
    public var dimension: Int { rows.dimension }

    init(links: Int, efConstruction: Int, rows: DatabaseRows, levels: [UInt8], offsets: [Int], neighbours: [Int32],
         entryPoint: Int32, maxLevel: Int, count: Int) {
        self.links = links
        self.efConstruction = efConstruction
        self.rows = rows
        self.levels = levels
        self.offsets = offsets
        self.neighbours = neighbours
        self.entryPoint = entryPoint
        self.maxLevel = maxLevel
        self.count = count
    }

    /// An empty graph over `rows`; `addRemainingRows` inserts them.
    public init(rows: DatabaseRows, links: Int, efConstruction: Int = defaultEfConstruction) {
        precondition(links >= 2, "HNSW needs at least 2 links per node")
        self.init(links: links, efConstruction: efConstruction, rows: rows, levels: [], offsets: [], neighbours: [],
                  entryPoint: -1, maxLevel: -1, count: 0)
    }

    /// Builds the graph over every row.
    public static func build(rows: DatabaseRows, links: Int, efConstruction: Int = defaultEfConstruction,
                             seed: UInt64 = 0, progress: ((Int, Int) -> Void)? = nil) -> HNSWIndex {
        var index = HNSWIndex(rows: rows, links: links, efConstruction: efConstruction)
        index.addRemainingRows(seed: seed, progress: progress)
        return index
    }

    /// What inserting rows changed in a graph saved earlier: the new nodes' levels and link slots,
    /// and the link slots of the earlier nodes that now hold other values (the reverse links and the
    /// lists the heuristic shrank). Saving this instead of the whole graph makes adding 1 % of the
    /// rows write about 1 % of the link table.
    struct Extension: Equatable {
        var entryPoint: Int32
        var maxLevel: Int
        var levels: [UInt8]
        var neighbours: [Int32]
        /// Positions in the earlier graph's link table, ascending, and their new values.
        var changedSlots: [UInt32]
        var changedValues: [Int32]
    }

    /// The changes since `base`, a graph over the first `base.count` rows that this one grew from.
    /// - Returns: nil when this graph does not extend `base` (other links, levels or sizes).
    func extensionSince(_ base: HNSWIndex) -> Extension? {
        guard base.links == links, base.count <= count, base.neighbours.count <= neighbours.count,
              levels.prefix(base.count).elementsEqual(base.levels),
              base.count == count || offsets[base.count] == base.neighbours.count else { return nil }
        var changedSlots: [UInt32] = [], changedValues: [Int32] = []
        for slot in 0 ..< base.neighbours.count where neighbours[slot] != base.neighbours[slot] {
            changedSlots.append(UInt32(slot))
            changedValues.append(neighbours[slot])
        }
        return Extension(entryPoint: entryPoint, maxLevel: maxLevel, levels: Array(levels[base.count...]),
                         neighbours: Array(neighbours[base.neighbours.count...]), changedSlots: changedSlots, changedValues: changedValues)
    }

    /// Applies `change` (from `extensionSince`) to this graph, the base it was computed against.
    /// - Returns: false, leaving the graph unusable, when the change does not fit it (links out of
    ///   range, slots past the table, levels that disagree with the slot count); the caller rejects
    ///   the file it came from.
    mutating func apply(_ change: Extension, rowCount: Int) -> Bool {
        let baseSlots = neighbours.count
        guard count + change.levels.count <= rowCount, change.changedSlots.count == change.changedValues.count else { return false }
        var previous: UInt32?
        for (slot, value) in zip(change.changedSlots, change.changedValues) {
            guard Int(slot) < baseSlots, previous.map({ $0 < slot }) ?? true else { return false }
            previous = slot
            neighbours[Int(slot)] = value
        }
        var total = baseSlots
        for level in change.levels {
            offsets.append(total)
            total += 2 * links + Int(level) * links
        }
        guard total - baseSlots == change.neighbours.count else { return false }
        levels.append(contentsOf: change.levels)
        neighbours.append(contentsOf: change.neighbours)
        count += change.levels.count
        entryPoint = change.entryPoint
        maxLevel = change.maxLevel
        return neighbours.allSatisfy { $0 >= -1 && Int($0) < count }
            && ((count == 0 && entryPoint == -1) || (entryPoint >= 0 && Int(entryPoint) < count))
            && maxLevel == (levels.map(Int.init).max() ?? -1)
    }

    @inline(__always) func capacity(atLevel level: Int) -> Int { level == 0 ? 2 * links : links }
    @inline(__always) func slotStart(_ node: Int, level: Int) -> Int {
        offsets[node] + (level == 0 ? 0 : 2 * links + (level - 1) * links)
    }

    /// Inserts the rows not yet in the graph: the highest-level nodes first, then level by level
    /// down (rows in order within a level), as FAISS does, so the sparse upper layers are in place
    /// before the bulk of layer 0 arrives. A node's level depends only on `seed` and its row.
    public mutating func addRemainingRows(seed: UInt64 = 0, progress: ((Int, Int) -> Void)? = nil) {
        let levelScale = 1 / Foundation.log(Double(links))
        let first = count
        guard first < rows.count else { return progress?(count, rows.count) ?? () }
        for node in first ..< rows.count {
            var random = SplitMix64(seed: seed ^ (UInt64(node) &* 0x9E37_79B9_7F4A_7C15))
            let uniform = max(random.nextUnit(), 1e-12)
            let level = min(Int(-Foundation.log(uniform) * levelScale), Int(UInt8.max) - 1)
            levels.append(UInt8(level))
            offsets.append(neighbours.count)
            neighbours.append(contentsOf: repeatElement(-1, count: 2 * links + level * links))
        }
        let order = (first ..< rows.count).sorted { levels[$0] != levels[$1] ? levels[$0] > levels[$1] : $0 < $1 }
        var search = LayerSearch(nodes: rows.count)
        var scratch: [Float] = [], vector = [Float](repeating: 0, count: dimension)
        for (done, node) in order.enumerated() {
            rows.withRow(node, scratch: &scratch) { source in
                for component in 0 ..< dimension { vector[component] = source[component] }
            }
            insert(node, level: Int(levels[node]), vector: vector, search: &search, scratch: &scratch)
            if done % 10_000 == 9_999 { progress?(first + done + 1, rows.count) }
        }
        count = rows.count
        progress?(count, rows.count)
    }

    private mutating func insert(_ node: Int, level: Int, vector: [Float], search: inout LayerSearch, scratch: inout [Float]) {
        guard entryPoint >= 0 else {
            entryPoint = Int32(node)
            maxLevel = level
            return
        }
        vector.withUnsafeBufferPointer { buffer in
            guard let query = buffer.baseAddress else { return }
            var entry = Int(entryPoint)
            var entryScore = similarity(query, entry, scratch: &scratch)
            if maxLevel > level {
                for layer in stride(from: maxLevel, to: level, by: -1) {
                    (entry, entryScore) = greedy(query, from: entry, score: entryScore, level: layer, scratch: &scratch)
                }
            }
            var entries = [Neighbor(index: entry, score: entryScore)]
            for layer in stride(from: min(level, maxLevel), through: 0, by: -1) {
                let candidates = search.run(self, query: query, entries: entries, ef: efConstruction, level: layer, scratch: &scratch)
                let chosen = selectNeighbours(candidates, maximum: capacity(atLevel: layer), scratch: &scratch)
                let start = slotStart(node, level: layer)
                for (slot, neighbour) in chosen.enumerated() { neighbours[start + slot] = Int32(neighbour.index) }
                for neighbour in chosen {
                    link(neighbour.index, to: node, score: neighbour.score, level: layer, scratch: &scratch)
                }
                entries = candidates
            }
        }
        if level > maxLevel {
            maxLevel = level
            entryPoint = Int32(node)
        }
    }

    /// Adds `node` to `target`'s links on `level`, shrinking them with the heuristic when full.
    private mutating func link(_ target: Int, to node: Int, score: Float, level: Int, scratch: inout [Float]) {
        let start = slotStart(target, level: level), capacity = capacity(atLevel: level)
        for slot in start ..< start + capacity where neighbours[slot] < 0 {
            neighbours[slot] = Int32(node)
            return
        }
        var targetVector = [Float](repeating: 0, count: dimension)
        rows.withRow(target, scratch: &scratch) { source in
            for component in 0 ..< dimension { targetVector[component] = source[component] }
        }
        var candidates = [Neighbor(index: node, score: score)]
        targetVector.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return }
            for slot in start ..< start + capacity {
                let other = Int(neighbours[slot])
                candidates.append(Neighbor(index: other, score: similarity(base, other, scratch: &scratch)))
            }
        }
        candidates.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        let kept = selectNeighbours(candidates, maximum: capacity, scratch: &scratch)
        for slot in 0 ..< capacity {
            neighbours[start + slot] = slot < kept.count ? Int32(kept[slot].index) : -1
        }
    }

    /// The heuristic of the HNSW paper (algorithm 4, without extension): candidates in order of
    /// decreasing similarity, each kept unless it is more similar to a node already kept than to the
    /// query. Spreads the links over directions instead of one dense cluster.
    private func selectNeighbours(_ candidates: [Neighbor], maximum: Int, scratch: inout [Float]) -> [Neighbor] {
        guard candidates.count > maximum else { return candidates }
        var kept: [Neighbor] = []
        var secondScratch: [Float] = []
        for candidate in candidates {
            var good = true
            rows.withRow(candidate.index, scratch: &scratch) { candidateVector in
                for other in kept where similarity(candidateVector, other.index, scratch: &secondScratch) > candidate.score {
                    good = false
                    break
                }
            }
            if good {
                kept.append(candidate)
                if kept.count >= maximum { break }
            }
        }
        return kept
    }

    @inline(__always)
    func similarity(_ query: UnsafePointer<Float>, _ node: Int, scratch: inout [Float]) -> Float {
        let dimension = dimension
        return rows.withRow(node, scratch: &scratch) { innerProduct(query, $0, count: dimension) }
    }

    /// The similarities of `query` to four nodes, read in one pass (see `innerProducts`).
    @inline(__always)
    func similarities(_ query: UnsafePointer<Float>, _ nodes: SIMD4<Int32>, scratch: inout [Float]) -> SIMD4<Float> {
        let dimension = dimension
        return rows.withFourRows(nodes, scratch: &scratch) { innerProducts(query, $0, $1, $2, $3, count: dimension) }
    }

    /// Greedy walk on one upper layer: move to the most similar neighbour until none improves.
    func greedy(_ query: UnsafePointer<Float>, from start: Int, score: Float, level: Int,
                scratch: inout [Float]) -> (Int, Float) {
        var current = start, currentScore = score
        var improved = true
        while improved {
            improved = false
            let first = slotStart(current, level: level)
            for slot in first ..< first + capacity(atLevel: level) {
                let neighbour = Int(neighbours[slot])
                if neighbour < 0 { break }
                let candidateScore = similarity(query, neighbour, scratch: &scratch)
                if candidateScore > currentScore || (candidateScore == currentScore && neighbour < current) {
                    current = neighbour
                    currentScore = candidateScore
                    improved = true
                }
            }
        }
        return (current, currentScore)
    }

    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        precondition(queries.columns == dimension, "Queries have dimension \(queries.columns), the index \(dimension)")
        let k = min(k, count)
        guard queries.rows > 0 else { return [] }
        guard k > 0, entryPoint >= 0 else { return Array(repeating: [], count: queries.rows) }
        let ef = max(k, parameters.efSearch ?? Self.defaultEfSearch)
        let threads = max(1, min(parameters.threads ?? ProcessInfo.processInfo.activeProcessorCount, queries.rows))
        let results = ResultSlots<[Neighbor]>(count: queries.rows, initial: [])
        let index = self
        let work: @Sendable (Int) -> Void = { worker in
            var search = LayerSearch(nodes: index.count)
            var scratch: [Float] = []
            for query in stride(from: worker, to: queries.rows, by: threads) {
                let hits = queries.storage.withUnsafeBufferPointer { buffer -> [Neighbor] in
                    guard let base = buffer.baseAddress else { return [] }
                    let vector = base + query * index.dimension
                    var entry = Int(index.entryPoint)
                    var score = index.similarity(vector, entry, scratch: &scratch)
                    for layer in stride(from: index.maxLevel, to: 0, by: -1) {
                        (entry, score) = index.greedy(vector, from: entry, score: score, level: layer, scratch: &scratch)
                    }
                    let found = search.run(index, query: vector, entries: [Neighbor(index: entry, score: score)], ef: ef,
                                           level: 0, scratch: &scratch)
                    return Array(found.prefix(k))
                }
                results.set(query, hits)
            }
        }
        if threads == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: threads, execute: work) }
        return results.values
    }
}

/// The beam search of one layer (algorithm 2 of the paper), with its reusable visited marks.
struct LayerSearch {
    /// `visited[node] == generation` marks nodes seen by the current search; bumping the
    /// generation clears every mark at once. One byte per node keeps the table a quarter the size
    /// of 32-bit marks, so more of it stays in cache (the price: a full clear every 255 searches).
    private var visited: [UInt8]
    private var generation: UInt8 = 0
    private var candidates = ScoreHeap()
    private var results = ScoreHeap()
    private var pending: [Int32] = []

    init(nodes: Int) { visited = [UInt8](repeating: 0, count: nodes) }

    /// The best `ef` nodes found from `entries`, best first (ties to the smaller node).
    mutating func run(_ graph: HNSWIndex, query: UnsafePointer<Float>, entries: [Neighbor], ef: Int, level: Int,
                      scratch: inout [Float]) -> [Neighbor] {
        if visited.count < graph.count { visited.append(contentsOf: repeatElement(0, count: graph.count - visited.count)) }
        generation &+= 1
        if generation == 0 {
            for index in visited.indices { visited[index] = 0 }
            generation = 1
        }
        candidates.removeAll()
        results.removeAll()
        for entry in entries where visited[entry.index] != generation {
            visited[entry.index] = generation
            // Candidates pop best first (keyed by −score); results pop worst first (keyed by score).
            candidates.push(key: -entry.score, node: Int32(entry.index))
            results.push(key: entry.score, node: Int32(entry.index))
            if results.count > ef { results.pop() }
        }
        let capacity = graph.capacity(atLevel: level)
        while let (negatedScore, node) = candidates.top {
            if results.count >= ef, let worst = results.top, -negatedScore < worst.key { break }
            candidates.pop()
            let start = graph.slotStart(Int(node), level: level)
            // The unvisited neighbours first, their rows requested from memory, then scored: the
            // loads of later rows overlap the products of earlier ones.
            pending.removeAll(keepingCapacity: true)
            // The visited marks of the whole list are requested before any is read.
            visited.withUnsafeBufferPointer { marks in
                guard let base = marks.baseAddress else { return }
                var slot = start
                while slot < start + capacity, graph.neighbours[slot] >= 0 {
                    landmark_prefetch(base + Int(graph.neighbours[slot]))
                    slot += 1
                }
            }
            for slot in start ..< start + capacity {
                let neighbour = Int(graph.neighbours[slot])
                if neighbour < 0 { break }
                if visited[neighbour] == generation { continue }
                visited[neighbour] = generation
                pending.append(Int32(neighbour))
                graph.rows.prefetch(neighbour)
            }
            // Scored four at a time (the last group padded with its own last node, scored once).
            var group = 0
            while group < pending.count {
                let last = pending.count - 1
                let nodes = SIMD4(pending[group], pending[min(group + 1, last)], pending[min(group + 2, last)],
                                  pending[min(group + 3, last)])
                let scores = graph.similarities(query, nodes, scratch: &scratch)
                for lane in 0 ..< min(4, pending.count - group) {
                    let score = scores[lane]
                    if results.count < ef || score > (results.top?.key ?? -.infinity) {
                        candidates.push(key: -score, node: nodes[lane])
                        results.push(key: score, node: nodes[lane])
                        if results.count > ef { results.pop() }
                    }
                }
                group += 4
            }
        }
        var found = results.elements.map { Neighbor(index: Int($0.node), score: $0.key) }
        found.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
        return found
    }
}

/// A binary min-heap of (key, node) pairs.
struct ScoreHeap {
    private(set) var elements: [(key: Float, node: Int32)] = []

    var count: Int { elements.count }
    var top: (key: Float, node: Int32)? { elements.first }

    mutating func removeAll() { elements.removeAll(keepingCapacity: true) }

    mutating func push(key: Float, node: Int32) {
        elements.append((key, node))
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard elements[child].key < elements[parent].key else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() {
        guard let last = elements.popLast() else { return }
        guard !elements.isEmpty else { return }
        elements[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < elements.count else { break }
            var smallest = left
            if left + 1 < elements.count, elements[left + 1].key < elements[left].key { smallest = left + 1 }
            guard elements[smallest].key < elements[parent].key else { break }
            elements.swapAt(smallest, parent)
            parent = smallest
        }
    }
}
