/// The inner product of two Float32 vectors of `count` components, with four 8-wide SIMD
/// accumulators so the loop keeps the vector units busy.
///
/// For the single-pair products of graph search and shortlist re-scoring, where a BLAS call
/// costs more than the arithmetic. The summation order differs from BLAS's, so results agree
/// with `sdot` to rounding, not bit for bit.
@inline(__always)
public func innerProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>(), sum2 = SIMD8<Float>(), sum3 = SIMD8<Float>()
    var position = 0
    let rawA = UnsafeRawPointer(a), rawB = UnsafeRawPointer(b)
    while position + 32 <= count {
        let offset = position * 4
        sum0 += rawA.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
            * rawB.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        sum1 += rawA.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
            * rawB.loadUnaligned(fromByteOffset: offset + 32, as: SIMD8<Float>.self)
        sum2 += rawA.loadUnaligned(fromByteOffset: offset + 64, as: SIMD8<Float>.self)
            * rawB.loadUnaligned(fromByteOffset: offset + 64, as: SIMD8<Float>.self)
        sum3 += rawA.loadUnaligned(fromByteOffset: offset + 96, as: SIMD8<Float>.self)
            * rawB.loadUnaligned(fromByteOffset: offset + 96, as: SIMD8<Float>.self)
        position += 32
    }
    while position + 8 <= count {
        sum0 += rawA.loadUnaligned(fromByteOffset: position * 4, as: SIMD8<Float>.self)
            * rawB.loadUnaligned(fromByteOffset: position * 4, as: SIMD8<Float>.self)
        position += 8
    }
    var total = ((sum0 + sum1) + (sum2 + sum3)).sum()
    while position < count {
        total += a[position] * b[position]
        position += 1
    }
    return total
}
