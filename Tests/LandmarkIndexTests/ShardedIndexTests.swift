import Testing
import LandmarkIndex
import LandmarkLinearAlgebra

@Suite struct ShardedIndexTests {
    @Test("shards searched side by side and merged rank like one exact index over all rows")
    func mergedShardsEqualOneIndex() {
        var random = SplitMix64(seed: 11)
        let whole = Matrix(rows: 300, columns: 16, storage: (0 ..< 300 * 16).map { _ in Float(random.nextUnit()) - 0.5 })
        let cuts = [0, 120, 121, 300]
        let shards: [any VectorIndex] = (0 ..< 3).map { part in
            let range = cuts[part] ..< cuts[part + 1]
            return FlatIndex(rows: DatabaseRows(Matrix(rows: range.count, columns: 16,
                                                       storage: Array(whole.storage[range.lowerBound * 16 ..< range.upperBound * 16]))))
        }
        let sharded = ShardedIndex(shards: shards)
        #expect(sharded.count == 300 && sharded.offsets == [0, 120, 121])
        let queries = Matrix(rows: 5, columns: 16, storage: (0 ..< 80).map { _ in Float(random.nextUnit()) - 0.5 })
        let expected = FlatIndex(rows: DatabaseRows(whole)).search(queries, k: 20)
        for threads in [1, 2, 4] {
            let found = sharded.search(queries, k: 20, parameters: SearchParameters(threads: threads))
            #expect(found.map { $0.map(\.index) } == expected.map { $0.map(\.index) })
            #expect(zip(found.joined(), expected.joined()).allSatisfy { abs($0.score - $1.score) < 1e-5 })
        }
    }
}
