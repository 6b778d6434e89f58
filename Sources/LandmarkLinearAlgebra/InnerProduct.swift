import CVectorKernels

/// The inner product of two Float32 vectors of `count` components, with four 8-wide SIMD
/// accumulators so the loop keeps the vector units busy.
///
/// For the single-pair products of graph search and shortlist re-scoring, where a BLAS call
/// costs more than the arithmetic. The summation order differs from BLAS's, so results agree
/// with `sdot` to rounding, not bit for bit.
/// With AVX2 and FMA, a C kernel compiled for them (see `innerProducts`).
@inline(__always)
public func innerProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    if landmark_vector_kernels_available() != 0 { return landmark_inner_product_avx2(a, b, count) }
    return portableInnerProduct(a, b, count: count)
}

/// `innerProduct` in Swift SIMD, for processors without AVX2 and FMA.
@inline(__always)
func portableInnerProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
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

/// The inner products of one vector with four others, in one pass over the components.
///
/// Graph search scores a node's unvisited neighbours, whose rows are usually not in cache: reading
/// four rows in the same loop keeps four streams of loads in flight where one product at a time
/// waits for each row in turn. Each lane sums in the same order whatever the other three rows are,
/// so a row's score does not depend on the rows batched with it.
///
/// On processors with AVX2 and FMA (nearly every x86-64 made since 2013) a C kernel compiled for
/// them does the work; Swift itself targets the SSE2 baseline, which halves the vector width.
@inline(__always)
public func innerProducts(_ query: UnsafePointer<Float>, _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>,
                          _ third: UnsafePointer<Float>, _ fourth: UnsafePointer<Float>, count: Int) -> SIMD4<Float> {
    if landmark_vector_kernels_available() != 0 {
        var totals: (Float, Float, Float, Float) = (0, 0, 0, 0)
        withUnsafeMutablePointer(to: &totals) { pointer in
            pointer.withMemoryRebound(to: Float.self, capacity: 4) {
                landmark_inner_products4_avx2(query, first, second, third, fourth, count, $0)
            }
        }
        return SIMD4(totals.0, totals.1, totals.2, totals.3)
    }
    return portableInnerProducts(query, first, second, third, fourth, count: count)
}

/// `innerProducts` in Swift SIMD, for processors without AVX2 and FMA (and to test the kernel against).
@inline(__always)
func portableInnerProducts(_ query: UnsafePointer<Float>, _ first: UnsafePointer<Float>, _ second: UnsafePointer<Float>,
                           _ third: UnsafePointer<Float>, _ fourth: UnsafePointer<Float>, count: Int) -> SIMD4<Float> {
    var sum0 = SIMD8<Float>(), sum1 = SIMD8<Float>(), sum2 = SIMD8<Float>(), sum3 = SIMD8<Float>()
    let rawQuery = UnsafeRawPointer(query)
    let raw0 = UnsafeRawPointer(first), raw1 = UnsafeRawPointer(second)
    let raw2 = UnsafeRawPointer(third), raw3 = UnsafeRawPointer(fourth)
    var offset = 0
    let end = (count / 8) * 8 * 4
    while offset < end {
        let component = rawQuery.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        sum0 += component * raw0.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        sum1 += component * raw1.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        sum2 += component * raw2.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        sum3 += component * raw3.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self)
        offset += 32
    }
    var totals = SIMD4<Float>(sum0.sum(), sum1.sum(), sum2.sum(), sum3.sum())
    for position in (count / 8) * 8 ..< count {
        totals += query[position] * SIMD4(first[position], second[position], third[position], fourth[position])
    }
    return totals
}
