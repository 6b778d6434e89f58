import Dispatch
import Foundation
import LandmarkLinearAlgebra

/// Several indexes searched as one (METHODS.md §10, sharding): shard `s` holds rows
/// `offsets[s] ..< offsets[s] + shards[s].count` of the whole. Every shard is searched for the `k`
/// best at once, one shard per core, and the lists are merged by score — exact when the shards are,
/// since the global top k is within the union of the shards' top k.
public struct ShardedIndex: VectorIndex {
    /// The shards, in row order.
    public let shards: [any VectorIndex]
    /// The first row of each shard.
    public let offsets: [Int]
    public let count: Int

    /// Joins shards of one dimension and one factory.
    /// - Precondition: at least one shard; all share `dimension` and `factory`.
    public init(shards: [any VectorIndex]) {
        precondition(!shards.isEmpty, "a sharded index needs at least one shard")
        precondition(shards.allSatisfy { $0.dimension == shards[0].dimension && $0.factory == shards[0].factory },
                     "shards must share their dimension and factory")
        self.shards = shards
        var offsets: [Int] = [], total = 0
        for shard in shards {
            offsets.append(total)
            total += shard.count
        }
        self.offsets = offsets
        count = total
    }

    public var factory: IndexFactory { shards[0].factory }
    public var dimension: Int { shards[0].dimension }

    public func search(_ queries: Matrix, k: Int, parameters: SearchParameters) -> [[Neighbor]] {
        if shards.count == 1 { return shards[0].search(queries, k: k, parameters: parameters) }
        let cores = max(1, parameters.threads ?? ProcessInfo.processInfo.activeProcessorCount)
        // Shards run side by side; each gets its share of the cores so the machine is not oversubscribed.
        var shared = parameters
        shared.threads = max(1, cores / shards.count)
        let perShard = shared
        let lists = ResultSlots<[[Neighbor]]>(count: shards.count, initial: [])
        let shards = self.shards
        DispatchQueue.concurrentPerform(iterations: shards.count) { shard in
            lists.set(shard, shards[shard].search(queries, k: k, parameters: perShard))
        }
        let found = lists.values
        return (0 ..< queries.rows).map { query in
            var merged: [Neighbor] = []
            for (shard, list) in found.enumerated() where query < list.count {
                merged.append(contentsOf: list[query].map { Neighbor(index: $0.index + offsets[shard], score: $0.score) })
            }
            merged.sort { $0.score != $1.score ? $0.score > $1.score : $0.index < $1.index }
            return Array(merged.prefix(k))
        }
    }
}
