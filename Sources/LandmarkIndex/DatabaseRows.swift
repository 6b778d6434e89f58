import LandmarkLinearAlgebra

/// The rows a search scores, wherever they live: a matrix on the heap, or a descriptor store read
/// straight from its memory map (float32 rows in place, float16 rows converted one block at a time).
///
/// Searching the mapped store instead of a copy is what lets an index larger than the free memory
/// be opened at once and searched while the kernel pages it in.
public struct DatabaseRows: Sendable {
    enum Storage: Sendable {
        case matrix(Matrix)
        case store(DescriptorStore)
    }

    let storage: Storage
    /// Number of rows.
    public let count: Int
    /// Components per row.
    public let dimension: Int

    /// Rows of a heap matrix.
    public init(_ matrix: Matrix) {
        storage = .matrix(matrix)
        count = matrix.rows
        dimension = matrix.columns
    }

    /// Rows of a mapped store, never copied as a whole.
    public init(_ store: DescriptorStore) {
        storage = .store(store)
        count = store.count
        dimension = store.dimension
    }

    /// True when a block must be converted before it can be scored (float16 storage).
    var needsConversion: Bool {
        if case .store(let store) = storage { return store.elementType != .float32 }
        return false
    }

    /// Calls `body` with a pointer to rows `range` as contiguous Float32; float16 rows are first
    /// converted into `scratch`, which grows to `range.count × dimension` when needed.
    func withFloat32Rows<Result>(_ range: Range<Int>, scratch: inout [Float],
                                 _ body: (UnsafePointer<Float>) -> Result) -> Result {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Row range out of bounds")
        let components = range.count * dimension
        func empty() -> Result {
            var nothing: Float = 0
            return withUnsafePointer(to: &nothing) { body($0) }
        }
        guard components > 0 else { return empty() }
        switch storage {
        case .matrix(let matrix):
            return matrix.storage.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return empty() }
                return body(base + range.lowerBound * dimension)
            }
        case .store(let store):
            guard let base = store.payload.baseAddress else { return empty() }
            if store.elementType == .float32 {
                // The payload is 64-byte aligned, so binding rows of whole floats is aligned.
                return body((base + range.lowerBound * dimension * 4).assumingMemoryBound(to: Float.self))
            }
            if scratch.count < components { scratch = [Float](repeating: 0, count: components) }
            let halves = (base + range.lowerBound * dimension * 2).assumingMemoryBound(to: Float16.self)
            return scratch.withUnsafeMutableBufferPointer { target in
                convertFloat16(UnsafeBufferPointer(start: halves, count: components),
                               into: UnsafeMutableBufferPointer(rebasing: target[0 ..< components]))
                guard let converted = target.baseAddress else { return empty() }
                return body(UnsafePointer(converted))
            }
        }
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
        switch storage {
        case .matrix(let matrix): return matrix.row(index)
        case .store(let store): return store.descriptor(at: index)
        }
    }

    /// Rows `range` copied into a matrix (for the few stages that need a modifiable copy).
    public func matrix(_ range: Range<Int>? = nil) -> Matrix {
        let range = range ?? 0 ..< count
        switch storage {
        case .matrix(let matrix):
            if range == 0 ..< matrix.rows { return matrix }
            return Matrix(rows: range.count, columns: dimension,
                          storage: Array(matrix.storage[range.lowerBound * dimension ..< range.upperBound * dimension]))
        case .store(let store):
            return store.rows(range)
        }
    }
}
