// EfficientNet-Lite's depthwise layers do little arithmetic on large maps, so memory passes decide their
// time: the Swift loops (SSE2, no fused multiply-add) copy each channel into a zero-bordered plane, zero
// each output row, read and write it once per kernel row and once more for the epilogue. Here the input is
// read in place (the border comes from load masks) and each vector of sixteen outputs stays in a register
// from the first tap to the activation.
#include "DepthwiseConvolution.h"

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static inline __mmask16 mask_for(long count) {
    return count >= 16 ? (__mmask16)0xFFFF : count <= 0 ? (__mmask16)0 : (__mmask16)((1u << count) - 1);
}

/// Lanes 0 ≤ lane < 16 whose column `first + lane` lies in [0, width).
__attribute__((target("avx512f")))
static inline __mmask16 inside(long first, long width) {
    long low = first < 0 ? -first : 0, high = width - first < 16 ? width - first : 16;
    if (high <= low) return 0;
    return (__mmask16)(((1u << high) - 1) & ~((1u << low) - 1));
}

__attribute__((target("avx512f")))
void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long pad_top,
                                            long pad_left, const float *weights, long kernel, long stride,
                                            long output_height, long output_width, float bias, const float *residual,
                                            int activation, float *output) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 zero = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f), bias_vector = _mm512_set1_ps(bias);
    __m512 taps[25];
    for (long t = 0; t < kernel * kernel && t < 25; t++) taps[t] = _mm512_set1_ps(weights[t]);
    // The load masks (the left and right borders) depend on the column block only: made once, for up to
    // 2048 columns; wider rows make the rest as they go.
    enum { STORED_BLOCKS = 128 };
    __mmask16 stored_masks[STORED_BLOCKS][5];
    long blocks = (output_width + 15) / 16;
    for (long block = 0; block < blocks && block < STORED_BLOCKS; block++) {
        long x = 16 * block;
        for (long k = 0; k < 5; k++) {
            if (stride == 1) {
                stored_masks[block][k] = k < kernel ? mask_for(output_width - x) & inside(x + k - pad_left, input_width) : 0;
            } else {
                stored_masks[block][k] = k < 3 ? inside(2 * x - pad_left + 16 * k, input_width) : 0;
            }
        }
    }
    for (long y = 0; y < output_height; y++) {
        for (long x = 0; x < output_width; x += 16) {
            __mmask16 store = mask_for(output_width - x);
            __mmask16 local[5];
            const __mmask16 *masks = local;
            if (x / 16 < STORED_BLOCKS) {
                masks = stored_masks[x / 16];
            } else if (stride == 1) {
                for (long kx = 0; kx < kernel; kx++) local[kx] = store & inside(x + kx - pad_left, input_width);
            } else {
                for (long i = 0; i < 3; i++) local[i] = inside(2 * x - pad_left + 16 * i, input_width);
            }
            __m512 sum = zero;
            for (long ky = 0; ky < kernel; ky++) {
                long input_row = y * stride + ky - pad_top;
                // A tap on a padding row adds w · 0: the sum is unchanged, so it is left out.
                if (input_row < 0 || input_row >= input_height) continue;
                const float *row = input + input_row * input_width;
                if (stride == 1) {
                    const float *start = row + x - pad_left;
                    for (long kx = 0; kx < kernel; kx++) {
                        // Masked lanes are never read, so the address may point before the row.
                        __m512 value = _mm512_maskz_loadu_ps(masks[kx], start + kx);
                        sum = _mm512_fmadd_ps(taps[ky * kernel + kx], value, sum);
                    }
                } else {
                    // Columns 2x − pad_left … + 47, zero outside the row (the padding).
                    const float *start = row + 2 * x - pad_left;
                    __m512 v0 = _mm512_maskz_loadu_ps(masks[0], start);
                    __m512 v1 = _mm512_maskz_loadu_ps(masks[1], start + 16);
                    __m512 v2 = _mm512_maskz_loadu_ps(masks[2], start + 32);
                    __m512 evens = _mm512_permutex2var_ps(v0, even, v1), odds = _mm512_permutex2var_ps(v0, odd, v1);
                    __m512 next_evens = _mm512_permutex2var_ps(v2, even, v2);
                    __m512 next_odds = _mm512_permutex2var_ps(v2, odd, v2);
                    __m512i e = _mm512_castps_si512(evens), o = _mm512_castps_si512(odds);
                    __m512i ne = _mm512_castps_si512(next_evens), no = _mm512_castps_si512(next_odds);
                    // Tap kx reads column 2(x + t) + kx: evens shifted by kx / 2 for even kx, odds for odd.
                    __m512 columns[5];
                    columns[0] = evens;
                    columns[1] = odds;
                    columns[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, e, 1));
                    columns[3] = _mm512_castsi512_ps(_mm512_alignr_epi32(no, o, 1));
                    columns[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, e, 2));
                    for (long kx = 0; kx < kernel; kx++) sum = _mm512_fmadd_ps(taps[ky * kernel + kx], columns[kx], sum);
                }
            }
            sum = _mm512_add_ps(sum, bias_vector);
            if (residual) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(store, residual + y * output_width + x));
            if (activation >= 1) sum = _mm512_max_ps(sum, zero);
            if (activation == 2) sum = _mm512_min_ps(sum, six);
            _mm512_mask_storeu_ps(output + y * output_width + x, store, sum);
        }
    }
}

#else

void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long pad_top,
                                            long pad_left, const float *weights, long kernel, long stride,
                                            long output_height, long output_width, float bias, const float *residual,
                                            int activation, float *output) {
    (void)input; (void)input_height; (void)input_width; (void)pad_top; (void)pad_left; (void)weights; (void)kernel; (void)stride; (void)output_height;
    (void)output_width; (void)bias; (void)residual; (void)activation; (void)output;
}

#endif
