import LandmarkLinearAlgebra

/// An approximate index over stored rows of which some were removed (tombstones), searched as an
/// index of the live rows alone.
///
/// The index itself keeps the removed rows — as FAISS keeps the ids of an index without removal —
/// so that removing images never renumbers or retrains it. A search asks it for more than `k` rows,
/// drops the removed ones and numbers the rest as live rows; when too few remain it asks again twice
/// as deep, so the caller always gets `min(k, live rows)` results when the index can find them.
public struct LiveRowsIndex: VectorIndex {
    public let stored: any VectorIndex
    /// For each stored row, its live row or -1.
    public let liveRowOfStoredRow: [Int32]
    public let count: Int

    public init(stored: any VectorIndex, liveRowOfStoredRow: [Int32], liveCount: Int) {
        precondition(liveRowOfStoredRow.count == stored.count, "one entry per stored row")
        self.stored = stored
        self.liveRowOfStoredRow = liveRowOfStoredRow
        count = liveCount
    }

    public var factory: IndexFactory { stored.factory }
    public var dimension: Int { stored.dimension }

    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        let wanted = min(k, count)
        let removed = stored.count - count
        var depth = min(stored.count, wanted + min(removed, max(wanted, 16)))
        while true {
            var complete = true
            let found = stored.search(queries, k: depth, parameters: parameters).map { list -> [Neighbor] in
                let live = Array(list.lazy.compactMap { neighbour -> Neighbor? in
                    let row = liveRowOfStoredRow[neighbour.index]
                    return row < 0 ? nil : Neighbor(index: Int(row), score: neighbour.score)
                }.prefix(wanted))
                // A list shorter than asked for means the index found no more candidates; deeper is no help.
                if live.count < wanted, list.count >= depth { complete = false }
                return live
            }
            if complete || depth >= stored.count { return found }
            depth = min(stored.count, depth * 2)
        }
    }
}
