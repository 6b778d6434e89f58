// The end of every output vector of the 1 × 1 and depthwise kernels, private to this module.
#ifndef LANDMARK_CONVOLUTION_EPILOGUE_H
#define LANDMARK_CONVOLUTION_EPILOGUE_H

#if defined(__x86_64__)
#include <immintrin.h>

/// (value + bias) + residual (lanes in `mask`; `residual` may be null), then the activation: 0 identity,
/// 1 max(x, 0), 2 min(max(x, 0), 6). The same operations in the same order as the engine's Swift
/// epilogue (`OutputEpilogue`), so the vector and portable paths round alike.
__attribute__((target("avx512f"), always_inline))
static inline __m512 landmark_convolution_epilogue(__m512 value, __m512 bias, const float *residual, __mmask16 mask,
                                                   int activation) {
    value = _mm512_add_ps(value, bias);
    if (residual) value = _mm512_add_ps(value, _mm512_maskz_loadu_ps(mask, residual));
    if (activation >= 1) value = _mm512_max_ps(value, _mm512_setzero_ps());
    if (activation == 2) value = _mm512_min_ps(value, _mm512_set1_ps(6.0f));
    return value;
}

#endif
#endif
