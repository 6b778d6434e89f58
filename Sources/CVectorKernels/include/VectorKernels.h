#ifndef LANDMARK_VECTOR_KERNELS_H
#define LANDMARK_VECTOR_KERNELS_H

/// True when the processor runs the AVX2 + FMA kernels below (checked once, at load time).
int landmark_vector_kernels_available(void);

/// The inner products of `query` with four rows of `count` floats, in one pass over the components,
/// eight lanes at a time with fused multiply-adds. Only call when landmark_vector_kernels_available().
/// Each lane sums in the same order whatever the other rows are.
void landmark_inner_products4_avx2(const float *query, const float *first, const float *second,
                                   const float *third, const float *fourth, long count, float *out);

/// The inner product of two vectors of `count` floats, four 8-lane accumulators with fused
/// multiply-adds. Only call when landmark_vector_kernels_available().
float landmark_inner_product_avx2(const float *a, const float *b, long count);

#endif
