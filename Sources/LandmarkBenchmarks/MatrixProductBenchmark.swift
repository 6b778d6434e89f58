import Foundation
@_spi(Benchmarks) import LandmarkLinearAlgebra

/// The machine's measured sgemm rate, the yardstick for everything built on matrix products.
public struct MatrixProductBenchmarkResult: Sendable, CustomStringConvertible {
    /// The product measured: C (m × n) = A (m × k) · Bᵀ, B stored n × k (the search layout).
    public let m: Int, n: Int, k: Int
    public let backendDescription: String
    /// Best of the repetitions, in GFLOP/s (2·m·n·k floating-point operations per product).
    public let singleThreadGFLOPS: Double
    public let allThreadsGFLOPS: Double
    /// Threads used for `allThreadsGFLOPS`.
    public let threadCount: Int

    /// The higher of the two rates: the ceiling other benchmarks are compared against.
    public var bestGFLOPS: Double { max(singleThreadGFLOPS, allThreadsGFLOPS) }

    public var description: String {
        let rates = String(format: "%.1f GFLOP/s on 1 thread, %.1f on %d", singleThreadGFLOPS, allThreadsGFLOPS, threadCount)
        return "sgemm \(m)×\(n)×\(k): \(rates) [\(backendDescription)]"
    }
}

public enum MatrixProductBenchmark {
    /// Times `C = A · Bᵀ` of the given shape with one thread and with every core, keeping the
    /// best of `repetitions` runs each (the box is shared, so the best run is the least disturbed).
    /// The default shape is one block of exact search: 1000 queries × 8192 rows × 2048 dimensions.
    public static func run(m: Int = 1000, n: Int = 8192, k: Int = 2048, repetitions: Int = 5) -> MatrixProductBenchmarkResult {
        let operands = MatrixProductOperands(m: m, n: n, k: k)
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let previousThreadCount = BLAS.threadCount
        defer { BLAS.setThreadCount(previousThreadCount) }
        var single = 0.0, all = 0.0
        for _ in 0 ..< max(1, repetitions) {
            single = max(single, operands.measureGFLOPS(threadCount: 1))
            all = max(all, operands.measureGFLOPS(threadCount: threads))
        }
        return MatrixProductBenchmarkResult(m: m, n: n, k: k, backendDescription: BLAS.backendDescription,
                                            singleThreadGFLOPS: single, allThreadsGFLOPS: all, threadCount: threads)
    }
}

/// Random operands for `C = A · Bᵀ`, kept so that repeated timings reuse them.
final class MatrixProductOperands {
    let m: Int, n: Int, k: Int
    let a: Matrix, b: Matrix
    var c: [Float]

    init(m: Int, n: Int, k: Int) {
        self.m = m
        self.n = n
        self.k = k
        a = randomMatrix(rows: m, columns: k, seed: 1)
        b = randomMatrix(rows: n, columns: k, seed: 2)
        c = [Float](repeating: 0, count: m * n)
    }

    /// GFLOP/s of one product with `threadCount` BLAS threads.
    func measureGFLOPS(threadCount: Int) -> Double {
        BLAS.setThreadCount(threadCount)
        let (m, n, k) = (self.m, self.n, self.k)
        let seconds = measure {
            a.storage.withUnsafeBufferPointer { a in
                b.storage.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        guard let a = a.baseAddress, let b = b.baseAddress, let c = c.baseAddress else { return }
                        BLAS.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1,
                                  a: a, lda: k, b: b, ldb: k, beta: 0, c: c, ldc: n)
                    }
                }
            }
        }
        return 2 * Double(m) * Double(n) * Double(k) / seconds / 1e9
    }
}

/// Wall-clock seconds of `body`.
func measure(_ body: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// Uniform values in [-1, 1] from a fixed-seed generator, so runs are comparable.
func randomMatrix(rows: Int, columns: Int, seed: UInt64) -> Matrix {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var storage = [Float](repeating: 0, count: rows * columns)
    storage.withUnsafeMutableBufferPointer { buffer in
        for index in buffer.indices {
            // xorshift64*: cheap enough to fill hundreds of megabytes quickly.
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            let bits = (state &* 0x2545_F491_4F6C_DD1D) >> 40
            buffer[index] = Float(bits) / Float(1 << 23) - 1
        }
    }
    return Matrix(rows: rows, columns: columns, storage: storage)
}
