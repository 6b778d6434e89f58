import CVectorKernels
import Foundation

/// Scratch memory for one thread's inference: recycled feature-map storage and one scratch buffer
/// (im2col tiles, Winograd bands, depthwise padded planes).
///
/// A network allocates while it sees its first image; after that, every layer takes its output
/// storage from this pool and hands back the maps it no longer needs, so extracting more images of
/// the same size allocates nothing per layer. The protocol:
/// 1. Operations (`Convolution2D`, pooling, ``bilinearResize(_:scaleFactor:workspace:)`` …) take their
///    output storage with ``makeFeatureMap(channels:height:width:)``; its contents are unspecified
///    until the operation writes every element.
/// 2. When a caller is done with a map (e.g. the input of the layer just run), it calls
///    ``recycle(_:)``. Recycling a map that is still referenced elsewhere is safe: `[Float]` is
///    copy-on-write, so the live copy keeps its values and the pool's next writer copies first
///    (costing one allocation, never corrupting data).
/// 3. The scratch buffer only grows (to a few tens of MB at most with the default tile limits);
///    ``releaseMemory()`` drops everything when a caller wants it back.
///
/// ``allocatedBufferCount`` shows whether the steady state is reached: it stops growing once every
/// output buffer comes from the pool.
///
/// A workspace is not thread-safe, and so not `Sendable`: each thread borrows its own (the CNN
/// descriptor keeps a pool of them, one per call in flight).
public final class TensorWorkspace {
    /// The thread count tiles and bands are balanced for, whatever `parallelism` is: a product's
    /// width decides how BLAS blocks it, so cutting the rows by the threads at hand would make a
    /// descriptor depend on how many threads made it (a Spark task on one core against the CLI on two
    /// gave different last bits). Two is this machine's core count; more threads still share the tiles.
    public static let partitionThreads = 2

    /// How many threads the engine's own loops (im2col, depthwise convolution, pooling) may use.
    /// 1 (the default) keeps each call on the caller's thread, which is right when several images
    /// are extracted at once on different threads. BLAS runs single-threaded (see `BLAS`), so
    /// convolutions run whole tiles (unfold, product, epilogue) on up to `parallelism` threads — on a shared 2-core box
    /// that measured faster and far steadier than a 2-thread BLAS, whose workers spin between the
    /// many products of a network (ResNet-101 at 1024 px under load: 3.1 s with 1 BLAS thread and
    /// parallelism 2, 3.8 s on one thread, 9–18 s with 2 BLAS threads).
    public var parallelism: Int {
        didSet { parallelism = min(max(parallelism, 1), ProcessInfo.processInfo.activeProcessorCount) }
    }

    /// The most floats an im2col tile should hold (the tile keeps at least a thousand columns).
    /// Convolutions are split into tiles of output rows; 1 Mi floats (4 MB) measured 10–40 % faster
    /// than untiled products on ResNet-101 shapes at 1024 px, because the unfolded tile is still in
    /// cache when the product reads it.
    public var im2colLimit: Int = 1 << 20

    /// The fewest output positions per product tile: below about a thousand columns the product
    /// itself slows more than cache locality gains.
    public var minimumTileColumns: Int = 1024

    /// Dense 3 × 3 stride-1 convolutions with at least this many input and output channels run
    /// Winograd (the layer's ``WinogradTile``: 4× or 2.25× fewer multiplications); `Int.max` turns it off. Below a few
    /// dozen channels the transforms cost more than the products save.
    public var winogradMinimumChannels: Int = 32

    /// Whether this processor runs the engine's AVX-512 kernels (checked once, when the process loads).
    public static let hasVectorKernels = landmark_cpu_has_avx512f() != 0

    /// Whether convolutions take the AVX-512 kernels (where ``hasVectorKernels``) or the portable
    /// paths other processors take; tests turn it off to check those paths.
    ///
    /// - Winograd F(4 × 4, 3 × 3)'s transforms: sixteen tiles per vector or one at a time, same bits.
    /// - 1 × 1 stride-1 layers: a register-blocked kernel that runs product, bias, residual and
    ///   activation in one pass (see `landmark_pointwise_convolution`), or sgemm and a separate pass.
    /// - Depthwise 3 × 3 and 5 × 5 layers at stride 1 or 2: one pass per output vector with fused
    ///   multiply-adds, or the Swift loops.
    ///
    /// The last two add in another order (and fuse), so their last bits differ from the portable
    /// paths'; both stay within 10⁻⁶ of PyTorch's descriptors.
    /// Turning it on where the processor lacks AVX-512 leaves it off: the 1 × 1 and depthwise kernels
    /// would stop on an illegal instruction.
    public var vectorKernels = TensorWorkspace.hasVectorKernels {
        didSet { vectorKernels = vectorKernels && TensorWorkspace.hasVectorKernels }
    }

    /// The most floats of transformed input and products one Winograd band should hold.
    public var winogradLimit: Int = 1 << 21

    /// Output floats per tile of a 1 × 1 convolution, which reads its input in place: small enough
    /// that the bias / residual / activation pass finds the product's output still in cache.
    public var pointwiseTileLimit: Int = 1 << 18

    /// Floats of expanded rows and filtered band one thread of a fused ``InvertedBottleneck`` holds
    /// (4 MB): two threads' bands stay in the 32 MB L3 between the three layers. Smaller bands fit the
    /// 1 MB L2 but were slower on devset (3.1 s against 2.4 s at 1 Mi floats for 512 KB): each band
    /// pays per-channel set-up, and bands of one to three rows lose the depthwise kernel's four-row reuse.
    public var bottleneckBandLimit: Int = 1 << 20

    /// Multiply-accumulates done by the convolutions run with this workspace, so that benchmarks can
    /// report the GFLOP/s a network achieves (2 floating-point operations per multiply-accumulate).
    public var multiplyAccumulateCount = 0

    /// Pooled storage, unordered; picked by best fit on capacity.
    private var pool: [[Float]] = []
    /// Pooled bytes are bounded so that a run over images of varying size cannot hoard memory.
    public var poolCapacityLimit: Int = 512 << 20
    private var pooledBytes = 0
    var columns: [Float] = []

    public init(parallelism: Int = 1) {
        self.parallelism = min(max(parallelism, 1), ProcessInfo.processInfo.activeProcessorCount)
    }

    /// A map whose storage comes from the pool when a buffer of sufficient capacity is there.
    /// Its values are unspecified: the caller must overwrite all of them.
    public func makeFeatureMap(channels: Int, height: Int, width: Int) -> FeatureMap {
        let count = channels * height * width
        return FeatureMap(channels: channels, height: height, width: width, storage: takeBuffer(count: count))
    }

    /// Gives `map`'s storage back to the pool (see the type's documentation).
    public func recycle(_ map: FeatureMap) {
        recycle(buffer: map.storage)
    }

    /// Gives a buffer back to the pool.
    public func recycle(buffer: [Float]) {
        let bytes = buffer.capacity * MemoryLayout<Float>.stride
        guard bytes > 0, pooledBytes + bytes <= poolCapacityLimit else { return }
        pool.append(buffer)
        pooledBytes += bytes
    }

    /// Drops the pool and the scratch buffer.
    public func releaseMemory() {
        pool = []
        pooledBytes = 0
        columns = []
    }

    /// Number of buffers waiting in the pool (for tests and diagnostics).
    public var pooledBufferCount: Int { pool.count }

    /// How many output buffers the pool could not supply and had to allocate, since creation:
    /// in steady state it stops growing.
    public private(set) var allocatedBufferCount = 0

    /// An array of exactly `count` elements with unspecified contents.
    func takeBuffer(count: Int) -> [Float] {
        var best = -1
        var bestCapacity = Int.max
        for index in pool.indices {
            let capacity = pool[index].capacity
            if capacity >= count && capacity < bestCapacity {
                best = index
                bestCapacity = capacity
                if capacity == count { break }
            }
        }
        guard best >= 0 else {
            allocatedBufferCount += 1
            return [Float](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
        }
        pool.swapAt(best, pool.count - 1)
        var buffer = pool.removeLast()
        pooledBytes -= buffer.capacity * MemoryLayout<Float>.stride
        if buffer.count > count {
            buffer.removeLast(buffer.count - count)
        } else if buffer.count < count {
            buffer.append(contentsOf: repeatElement(0, count: count - buffer.count))
        }
        return buffer
    }

    /// The scratch buffer, grown to at least `count` floats.
    func withColumns<Result>(count: Int, _ body: (UnsafeMutablePointer<Float>) -> Result) -> Result {
        if columns.count < count {
            columns = [Float](repeating: 0, count: count)
        }
        return columns.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress else { preconditionFailure("im2col buffer is empty") }
            return body(base)
        }
    }
}
