import CMemoryHints
import LandmarkLinearAlgebra

/// The rows a search scores, wherever they live: a matrix on the heap, or a descriptor store read
/// straight from its memory map (float32 rows in place, float16 rows converted one block at a time).
///
/// Searching the mapped store instead of a copy is what lets an index larger than the free memory
/// be opened at once and searched while the kernel pages it in.
public struct DatabaseRows: Sendable {
    /// Consecutive rows of one mapped store: store rows `first ..< first + count` are rows
    /// `start ..< start + count` here. A segmented store with removed rows is several runs.
    ///
    /// Only plain values and the payload's address, so that reading a row copies no reference: row
    /// reads come from every search thread at once, and reference counting on shared objects made two
    /// threads slower than one. The mapping stays alive through `DatabaseRows.stores`.
    struct Run: @unchecked Sendable {
        let payload: UnsafeRawPointer?
        let elementType: DescriptorElementType
        let first: Int
        let start: Int
        let count: Int

        init(store: DescriptorStore, first: Int, start: Int, count: Int) {
            payload = store.payload.baseAddress
            elementType = store.elementType
            self.first = first
            self.start = start
            self.count = count
        }
    }

    /// Heap rows, when the rows are not mapped.
    let heap: Matrix?
    /// Mapped rows, in order (empty for heap rows).
    let runs: [Run]
    /// The stores `runs` point into, kept alive (and open) as long as these rows.
    let stores: [DescriptorStore]
    /// Number of rows.
    public let count: Int
    /// Components per row.
    public let dimension: Int

    /// Rows of a heap matrix.
    public init(_ matrix: Matrix) {
        heap = matrix
        runs = []
        stores = []
        count = matrix.rows
        dimension = matrix.columns
    }

    /// Rows of a mapped store, never copied as a whole.
    public init(_ store: DescriptorStore) {
        self.init(runs: [Run(store: store, first: 0, start: 0, count: store.count)], stores: [store], dimension: store.dimension)
    }

    /// Rows spread over several mapped stores, in the order of `runs` (empty runs are dropped).
    init(runs: [Run], stores: [DescriptorStore], dimension: Int) {
        heap = nil
        self.runs = runs.filter { $0.count > 0 }
        self.stores = stores
        count = runs.reduce(0) { $0 + $1.count }
        self.dimension = dimension
    }

    /// True when a block must be converted before it can be scored (float16 storage).
    var needsConversion: Bool { runs.contains { $0.elementType != .float32 } }

    /// The run holding row `row` (a binary search over the runs' starts).
    @inline(__always)
    private func runIndex(of row: Int) -> Int {
        var low = 0, high = runs.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if runs[middle].start <= row { low = middle } else { high = middle - 1 }
        }
        return low
    }

    /// The first cache lines of mapped row `row` are requested from memory ahead of use: graph
    /// search and re-scoring then overlap the latency of the next rows with the arithmetic on this
    /// one. Rows of a heap matrix are not prefetched (they are usually cached already).
    @inline(__always)
    func prefetch(_ row: Int) {
        guard heap == nil else { return }
        let run = runs[runIndex(of: row)]
        guard let payload = run.payload else { return }
        let bytesPerRow = dimension * (run.elementType == .float32 ? 4 : 2)
        let address = UnsafeRawPointer(payload + (run.first + row - run.start) * bytesPerRow)
        // The first lines only: the hardware prefetcher streams the rest of the row once they are
        // read, and the few fill buffers are better spent starting many rows than finishing one.
        var offset = 0
        while offset < min(bytesPerRow, 128) {
            landmark_prefetch(address + offset)
            offset += 64
        }
    }

    /// Calls `body` with a pointer to rows `range` as contiguous Float32. Float32 rows of one run are
    /// read in place; float16 rows, and ranges that span runs, are first gathered into `scratch`,
    /// which grows to `range.count × dimension` when needed.
    func withFloat32Rows<Result>(_ range: Range<Int>, scratch: inout [Float],
                                 _ body: (UnsafePointer<Float>) -> Result) -> Result {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Row range out of bounds")
        let components = range.count * dimension
        func empty() -> Result {
            var nothing: Float = 0
            return withUnsafePointer(to: &nothing) { body($0) }
        }
        guard components > 0 else { return empty() }
        if let heap {
            return heap.storage.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return empty() }
                return body(base + range.lowerBound * dimension)
            }
        }
        let first = runs[runIndex(of: range.lowerBound)]
        if first.elementType == .float32, range.upperBound <= first.start + first.count, let base = first.payload {
            // The payload is 64-byte aligned, so binding rows of whole floats is aligned.
            let row = first.first + range.lowerBound - first.start
            return body((base + row * dimension * 4).assumingMemoryBound(to: Float.self))
        }
        if scratch.count < components { scratch = [Float](repeating: 0, count: components) }
        return scratch.withUnsafeMutableBufferPointer { target in
            gather(range, into: UnsafeMutableBufferPointer(rebasing: target[0 ..< components]))
            guard let converted = target.baseAddress else { return empty() }
            return body(UnsafePointer(converted))
        }
    }

    /// Copies (converting float16) mapped rows `range` into `target`, run by run.
    private func gather(_ range: Range<Int>, into target: UnsafeMutableBufferPointer<Float>) {
        var runNumber = runIndex(of: range.lowerBound)
        var row = range.lowerBound
        while row < range.upperBound {
            let run = runs[runNumber]
            let end = min(range.upperBound, run.start + run.count)
            let components = (end - row) * dimension
            let offset = (row - range.lowerBound) * dimension
            if let payload = run.payload, let destination = target.baseAddress {
                let sourceElement = (run.first + row - run.start) * dimension
                if run.elementType == .float32 {
                    (destination + offset).update(from: (payload + sourceElement * 4).assumingMemoryBound(to: Float.self),
                                                  count: components)
                } else {
                    convertFloat16(UnsafeBufferPointer(start: (payload + sourceElement * 2).assumingMemoryBound(to: Float16.self),
                                                       count: components),
                                   into: UnsafeMutableBufferPointer(start: destination + offset, count: components))
                }
            }
            row = end
            runNumber += 1
        }
    }

    /// Calls `body` with rows `rows` as four Float32 pointers (in place unless stored as float16, in
    /// which case they are converted into `scratch`): what batched graph scoring reads.
    @inline(__always)
    func withFourRows<Result>(_ rows: SIMD4<Int32>, scratch: inout [Float],
                              _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                       UnsafePointer<Float>) -> Result) -> Result {
        for lane in 0 ..< 4 { precondition(rows[lane] >= 0 && Int(rows[lane]) < count, "Row out of bounds") }
        let dimension = dimension
        if let heap {
            return heap.storage.withUnsafeBufferPointer { buffer in
                // Rows are never empty here (the bounds check passed), so the storage has an address.
                guard let base = buffer.baseAddress else { preconditionFailure("Rows without storage") }
                return body(base + Int(rows[0]) * dimension, base + Int(rows[1]) * dimension,
                            base + Int(rows[2]) * dimension, base + Int(rows[3]) * dimension)
            }
        }
        if let first = inPlaceRow(Int(rows[0])), let second = inPlaceRow(Int(rows[1])),
           let third = inPlaceRow(Int(rows[2])), let fourth = inPlaceRow(Int(rows[3])) {
            return body(first, second, third, fourth)
        }
        if scratch.count < 4 * dimension { scratch = [Float](repeating: 0, count: 4 * dimension) }
        return scratch.withUnsafeMutableBufferPointer { target in
            for lane in 0 ..< 4 {
                let row = Int(rows[lane])
                gather(row ..< row + 1, into: UnsafeMutableBufferPointer(rebasing: target[lane * dimension ..< (lane + 1) * dimension]))
            }
            guard let converted = target.baseAddress else { preconditionFailure("Rows without storage") }
            let base = UnsafePointer(converted)
            return body(base, base + dimension, base + 2 * dimension, base + 3 * dimension)
        }
    }

    /// Mapped row `row` in place, when it is stored as float32.
    @inline(__always)
    private func inPlaceRow(_ row: Int) -> UnsafePointer<Float>? {
        let run = runs[runIndex(of: row)]
        guard run.elementType == .float32, let payload = run.payload else { return nil }
        return (payload + (run.first + row - run.start) * dimension * 4).assumingMemoryBound(to: Float.self)
    }

    /// Calls `body` with row `index` as Float32 (in place unless stored as float16).
    @inline(__always)
    func withRow<Result>(_ index: Int, scratch: inout [Float], _ body: (UnsafePointer<Float>) -> Result) -> Result {
        withFloat32Rows(index ..< index + 1, scratch: &scratch, body)
    }

    /// A seeded random sample of at most `maximum` rows (all rows, in order, when there are fewer),
    /// copied into a matrix: what approximate indexes are trained on.
    public func sample(maximum: Int, seed: UInt64) -> Matrix {
        guard count > maximum else { return matrix() }
        var random = SplitMix64(seed: seed)
        var chosen = Set<Int>()
        while chosen.count < maximum { chosen.insert(Int(random.next() % UInt64(count))) }
        var result = Matrix(rows: maximum, columns: dimension)
        var scratch: [Float] = []
        for (position, row) in chosen.sorted().enumerated() {
            withRow(row, scratch: &scratch) { source in
                for component in 0 ..< dimension { result.storage[position * dimension + component] = source[component] }
            }
        }
        return result
    }

    /// Row `index` as Float32.
    public func row(_ index: Int) -> [Float] {
        matrix(index ..< index + 1).storage
    }

    /// Rows `range` copied into a matrix (for the few stages that need a modifiable copy).
    public func matrix(_ range: Range<Int>? = nil) -> Matrix {
        let range = range ?? 0 ..< count
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Row range out of bounds")
        if let heap, range == 0 ..< heap.rows { return heap }
        var result = Matrix(rows: range.count, columns: dimension)
        guard range.count > 0, dimension > 0 else { return result }
        if let heap {
            return Matrix(rows: range.count, columns: dimension,
                          storage: Array(heap.storage[range.lowerBound * dimension ..< range.upperBound * dimension]))
        }
        result.storage.withUnsafeMutableBufferPointer { gather(range, into: $0) }
        return result
    }
}
