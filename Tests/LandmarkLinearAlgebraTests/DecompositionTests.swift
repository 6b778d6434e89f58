import Testing
@testable import LandmarkLinearAlgebra

private func symmetricPositiveDefinite(size: Int, seed: UInt64) -> Matrix {
    let random = randomMatrix(rows: size, columns: size + 3, seed: seed)
    var spd = random.multiplied(byTransposeOf: random)
    for i in 0 ..< size { spd[i, i] += 0.5 }
    return spd
}

@Test func eigendecompositionOfKnownMatrix() throws {
    // Eigenvalues 5, 3, 1 with eigenvectors e3, (1,1,0)/√2, (1,-1,0)/√2.
    let matrix = Matrix(rowVectors: [[2, 1, 0], [1, 2, 0], [0, 0, 5]])
    let decomposition = try SymmetricEigendecomposition(matrix)
    #expect(zip(decomposition.eigenvalues, [5, 3, 1]).allSatisfy { abs($0 - $1) <= 1e-5 })
    let v = decomposition.eigenvectors
    let s = Float(0.5).squareRoot()
    let expected = Matrix(rowVectors: [[0, s, s], [0, s, -s], [1, 0, 0]])
    // Sign convention: largest-magnitude component positive (first one on a tie for column 2).
    for column in 0 ..< 2 {
        for row in 0 ..< 3 { #expect(abs(v[row, column] - expected[row, column]) <= 1e-5) }
    }
    #expect(abs(abs(v[0, 2]) - s) <= 1e-5 && abs(abs(v[1, 2]) - s) <= 1e-5 && abs(v[2, 2]) <= 1e-5)
}

@Test func eigendecompositionReconstructsRandomSymmetricMatrix() throws {
    let n = 24
    let matrix = symmetricPositiveDefinite(size: n, seed: 31)
    let decomposition = try SymmetricEigendecomposition(matrix)
    #expect(zip(decomposition.eigenvalues, decomposition.eigenvalues.dropFirst()).allSatisfy { $0 >= $1 })
    let v = decomposition.eigenvectors
    // V diag(λ) Vᵀ = A and Vᵀ V = I.
    var scaled = v
    for row in 0 ..< n { for column in 0 ..< n { scaled[row, column] *= decomposition.eigenvalues[column] } }
    let reconstructed = scaled.multiplied(byTransposeOf: v)
    let scale = decomposition.eigenvalues[0]
    #expect(zip(reconstructed.storage, matrix.storage).allSatisfy { abs($0 - $1) <= 1e-5 * scale })
    let gram = v.transposed() * v
    for row in 0 ..< n {
        for column in 0 ..< n { #expect(abs(gram[row, column] - (row == column ? 1 : 0)) <= 1e-5) }
    }
}

@Test func eigendecompositionRejectsNonFiniteInput() {
    #expect(throws: LinearAlgebraError.self) {
        try SymmetricEigendecomposition(Matrix(rowVectors: [[1, .nan], [.nan, 1]]))
    }
}

@Test func choleskyFactorReconstructsAndInverseInverts() throws {
    let n = 12
    let spd = symmetricPositiveDefinite(size: n, seed: 32)
    let lower = try Cholesky.factorLower(spd)
    for row in 0 ..< n { for column in (row + 1) ..< n { #expect(lower[row, column] == 0) } }
    let reconstructed = lower.multiplied(byTransposeOf: lower)
    #expect(zip(reconstructed.storage, spd.storage).allSatisfy { abs($0 - $1) <= 1e-4 })
    let inverse = try Cholesky.inverse(spd)
    #expect(inverse == inverse.transposed())
    let identity = inverse * spd
    for row in 0 ..< n {
        for column in 0 ..< n { #expect(abs(identity[row, column] - (row == column ? 1 : 0)) <= 1e-3) }
    }
}

@Test func choleskyRejectsIndefiniteMatrix() {
    do {
        _ = try Cholesky.factorLower(Matrix(rowVectors: [[1, 2], [2, 1]]))
        Issue.record("expected an error")
    } catch {
        #expect(error.code == .notPositiveDefinite)
        #expect(error.description.contains("spotrf"))
    }
}
