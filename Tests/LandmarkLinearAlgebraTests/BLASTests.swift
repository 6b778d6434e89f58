import Testing
@_spi(Benchmarks) @testable import LandmarkLinearAlgebra

/// Double-precision reference for C = alpha·op(A)·op(B) + beta·C on strided row-major buffers.
private func naiveGemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: [Float], lda: Int, b: [Float], ldb: Int, beta: Float, c: [Float], ldc: Int) -> [Float] {
    var result = c
    for i in 0 ..< m {
        for j in 0 ..< n {
            var sum = 0.0
            for p in 0 ..< k {
                let aValue = transposeA ? a[p * lda + i] : a[i * lda + p]
                let bValue = transposeB ? b[j * ldb + p] : b[p * ldb + j]
                sum += Double(aValue) * Double(bValue)
            }
            result[i * ldc + j] = Float(Double(alpha) * sum + Double(beta) * Double(c[i * ldc + j]))
        }
    }
    return result
}

@Test func gemmMatchesNaiveLoopOnEveryBackendAndTranspose() {
    let m = 13, n = 29, k = 37
    for backend in availableBackends {
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                // Padded strides check that leading dimensions are honoured.
                let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
                let a = randomMatrix(rows: transposeA ? k : m, columns: lda, seed: 1).storage
                let b = randomMatrix(rows: transposeB ? n : k, columns: ldb, seed: 2).storage
                let c = randomMatrix(rows: m, columns: ldc, seed: 3).storage
                let expected = naiveGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                         alpha: 0.75, a: a, lda: lda, b: b, ldb: ldb, beta: -0.5, c: c, ldc: ldc)
                var actual = c
                a.withUnsafeBufferPointer { a in
                    b.withUnsafeBufferPointer { b in
                        actual.withUnsafeMutableBufferPointer { out in
                            BLAS.gemm(backend, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                                      alpha: 0.75, a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb,
                                      beta: -0.5, c: out.baseAddress!, ldc: ldc)
                        }
                    }
                }
                let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
                #expect(worst <= 1e-5, "\(backend.description) tA=\(transposeA) tB=\(transposeB): error \(worst)")
            }
        }
    }
}

@Test func gemvMatchesNaiveLoopOnEveryBackend() {
    let rows = 17, columns = 11, lda = 14
    let a = randomMatrix(rows: rows, columns: lda, seed: 4).storage
    for backend in availableBackends {
        for transpose in [false, true] {
            let xCount = transpose ? rows : columns, yCount = transpose ? columns : rows
            let x = randomMatrix(rows: 1, columns: xCount, seed: 5).storage
            let y = randomMatrix(rows: 1, columns: yCount, seed: 6).storage
            var expected = y
            for i in 0 ..< yCount {
                var sum = 0.0
                for p in 0 ..< xCount {
                    sum += Double(transpose ? a[p * lda + i] : a[i * lda + p]) * Double(x[p])
                }
                expected[i] = Float(2 * sum + 0.25 * Double(y[i]))
            }
            var actual = y
            a.withUnsafeBufferPointer { a in
                x.withUnsafeBufferPointer { x in
                    actual.withUnsafeMutableBufferPointer { out in
                        BLAS.gemv(backend, transpose: transpose, rows: rows, columns: columns, alpha: 2,
                                  a: a.baseAddress!, lda: lda, x: x.baseAddress!, beta: 0.25, y: out.baseAddress!)
                    }
                }
            }
            let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-5, "\(backend.description) transpose=\(transpose): error \(worst)")
        }
    }
}

@Test func backendIsDescribed() {
    #expect(!BLAS.backendDescription.isEmpty)
    #expect(BLAS.backendDescription.contains("OpenBLAS") || BLAS.backendDescription.contains("openblas"))
}

@Test func matrixOperatorsAgreeWithNaiveProducts() {
    let a = randomMatrix(rows: 5, columns: 7, seed: 7)
    let b = randomMatrix(rows: 7, columns: 3, seed: 8)
    let product = a * b
    #expect(product.rows == 5 && product.columns == 3)
    for i in 0 ..< 5 {
        for j in 0 ..< 3 {
            let expected = (0 ..< 7).reduce(Float(0)) { $0 + a[i, $1] * b[$1, j] }
            #expect(abs(product[i, j] - expected) <= 1e-5)
        }
    }
    let viaTranspose = a.multiplied(byTransposeOf: b.transposed())
    #expect(zip(viaTranspose.storage, product.storage).allSatisfy { abs($0 - $1) <= 1e-5 })
    let vector: [Float] = [1, -2, 0.5, 3, 0, 1, -1]
    let mv = a.multiplied(by: vector)
    for i in 0 ..< 5 {
        let expected = (0 ..< 7).reduce(Float(0)) { $0 + a[i, $1] * vector[$1] }
        #expect(abs(mv[i] - expected) <= 1e-5)
    }
    // Degenerate shapes produce correctly sized zero results instead of calling BLAS.
    let empty = Matrix(rows: 0, columns: 4) * Matrix(rows: 4, columns: 2)
    #expect(empty.rows == 0 && empty.columns == 2)
    let inner = Matrix(rows: 2, columns: 0) * Matrix(rows: 0, columns: 3)
    #expect(inner == Matrix(rows: 2, columns: 3))
}

@Test("four inner products in one pass agree with one at a time and with a double-precision loop, whatever the batch",
      arguments: [1, 7, 8, 31, 512, 1283])
func batchedInnerProducts(count: Int) {
    var random = SplitMix64(seed: UInt64(count))
    let vectors = (0 ..< 5).map { _ in (0 ..< count).map { _ in Float(random.nextUnit() * 2 - 1) } }
    let query = vectors[0]
    let batched = innerProducts(query, vectors[1], vectors[2], vectors[3], vectors[4], count: count)
    // The same row in another batch position, beside other rows, gives the same bits.
    let reordered = innerProducts(query, vectors[4], vectors[1], vectors[1], vectors[2], count: count)
    #expect(reordered[1] == batched[0] && reordered[2] == batched[0] && reordered[0] == batched[3])
    for lane in 0 ..< 4 {
        let exact = zip(query, vectors[lane + 1]).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(Double(batched[lane]) - exact) < 1e-5 * Double(count))
        #expect(abs(batched[lane] - innerProduct(query, vectors[lane + 1], count: count)) < 1e-5 * Float(count))
    }
    // The portable kernel (what a processor without AVX2 runs) agrees with the dispatched one.
    let portable = portableInnerProducts(query, vectors[1], vectors[2], vectors[3], vectors[4], count: count)
    for lane in 0 ..< 4 {
        #expect(abs(portable[lane] - batched[lane]) < 1e-5 * Float(count))
        #expect(abs(portableInnerProduct(query, vectors[lane + 1], count: count) - batched[lane]) < 1e-5 * Float(count))
    }
}
