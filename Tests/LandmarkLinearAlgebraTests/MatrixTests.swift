import Testing
import LandmarkLinearAlgebra

@Test func matrixIsRowMajor() {
    var matrix = Matrix(rowVectors: [[1, 2, 3], [4, 5, 6]])
    #expect(matrix.rows == 2 && matrix.columns == 3)
    #expect(matrix.storage == [1, 2, 3, 4, 5, 6])
    #expect(matrix[1, 0] == 4)
    #expect(matrix.row(1) == [4, 5, 6])
    matrix[0, 2] = 9
    #expect(matrix.storage[2] == 9)
    let transposed = matrix.transposed()
    #expect(transposed.rows == 3 && transposed.columns == 2)
    #expect(transposed.storage == [1, 4, 2, 5, 9, 6])
    #expect(Matrix(rows: 2, columns: 2, repeating: 3).storage == [3, 3, 3, 3])
    #expect(Matrix(rowVectors: []).rows == 0)
}

@Test func transposeOfLargeNonSquareMatrixRoundTrips() {
    let matrix = randomMatrix(rows: 70, columns: 45, seed: 11)
    let transposed = matrix.transposed()
    for r in 0 ..< 70 { for c in 0 ..< 45 { #expect(transposed[c, r] == matrix[r, c]) } }
    #expect(transposed.transposed() == matrix)
}

@Test func normalisationGivesUnitRowsAndLeavesZeroRowsZero() {
    var matrix = Matrix(rowVectors: [[3, 4], [0, 0], [1e-30, 0], [-2, 0]])
    matrix.normalizeRows()
    #expect(matrix.row(0) == [0.6, 0.8])
    #expect(matrix.row(1) == [0, 0])
    #expect(matrix.row(3) == [-1, 0])
    let long = randomMatrix(rows: 1, columns: 77, seed: 12).storage
    let unit = l2Normalized(long)
    let norm = unit.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    #expect(abs(norm - 1) <= 1e-6)
    let reference = long.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
    for (u, v) in zip(unit, long) { #expect(abs(Double(u) - Double(v) / reference) <= 1e-6) }
    #expect(l2Normalized([0, 0, 0]) == [0, 0, 0])
    #expect(l2Normalized([]) == [])
}

@Test func float16RoundTripsWithinHalfPrecision() {
    let values: [Float] = [0, 1, -2.5, 0.1, 65504, 1e-3, 3.14159]
    let half = toFloat16(values)
    let back = fromFloat16(half)
    for (original, restored) in zip(values, back) {
        #expect(abs(original - restored) <= abs(original) * 0x1p-11)
    }
    #expect(fromFloat16(toFloat16([70000])) == [Float.infinity])
}

@Test("the eight-wide float16 widening equals Float(Float16) for all 65,536 bit patterns, at every offset")
func float16WideningIsExactForEveryValue() {
    let halves = (0 ... UInt16.max).map { Float16(bitPattern: $0) }
    for offset in [0, 3] {   // 3: the scalar tail and unaligned loads
        let slice = Array(halves.dropFirst(offset))
        var widened = [Float](repeating: 0, count: slice.count)
        slice.withUnsafeBufferPointer { source in
            widened.withUnsafeMutableBufferPointer { convertFloat16(source, into: $0) }
        }
        let mismatches = zip(slice, widened).filter { half, single in
            half.isNaN ? !(single.isNaN && single.sign == half.sign) : Float(half).bitPattern != single.bitPattern
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(3).map { ($0.0.bitPattern, $0.1) })")
    }
}
