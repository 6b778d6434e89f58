// Winograd F(4 × 4, 3 × 3)'s output transform reads 36 products per tile and writes 16 outputs four
// columns apart per tile: scalar Swift spent a twelfth of ResNet's 3 × 3 layers here. Sixteen tiles per
// vector, the 4 × 4 blocks interleaved back into rows with two rounds of permutes.
#include "WinogradTransforms.h"
#include "CPUFeatures.h"

#pragma STDC FP_CONTRACT OFF

// Aᵀ applied to six values; the same expression tree in the scalar and vector paths.
#define REDUCE(add, sub, mul, two, four, eight, m0, m1, m2, m3, m4, m5, y0, y1, y2, y3) do { \
        __typeof__(m0) s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4); \
        y0 = add(add(m0, s12), s34); \
        y1 = add(d12, mul(two, d34)); \
        y2 = add(s12, mul(four, s34)); \
        y3 = add(add(d12, mul(eight, d34)), m5); \
    } while (0)

// Bᵀ applied to six values.
#define EXPAND(add, sub, mul, four, five, two, d0, d1, d2, d3, d4, d5, v0, v1, v2, v3, v4, v5) do { \
        __typeof__(d0) a = sub(d4, mul(four, d2)), b = sub(d3, mul(four, d1)); \
        __typeof__(d0) c = sub(d4, d2), e = mul(two, sub(d3, d1)); \
        v0 = add(sub(mul(four, d0), mul(five, d2)), d4); \
        v1 = add(a, b); \
        v2 = sub(a, b); \
        v3 = add(c, e); \
        v4 = sub(c, e); \
        v5 = add(sub(mul(four, d1), mul(five, d3)), d5); \
    } while (0)

#define SCALAR_ADD(a, b) ((a) + (b))
#define SCALAR_SUB(a, b) ((a) - (b))
#define SCALAR_MUL(a, b) ((a) * (b))

static void output_tile_scalar(const float *products, long position_stride, long j, float *output,
                               long output_width, long row_count) {
    float rows[6][4];
    for (int r = 0; r < 6; r++) {
        const float *m = products + (6 * r) * position_stride + j;
        float m0 = m[0], m1 = m[position_stride], m2 = m[2 * position_stride], m3 = m[3 * position_stride];
        float m4 = m[4 * position_stride], m5 = m[5 * position_stride];
        REDUCE(SCALAR_ADD, SCALAR_SUB, SCALAR_MUL, 2.0f, 4.0f, 8.0f, m0, m1, m2, m3, m4, m5,
               rows[r][0], rows[r][1], rows[r][2], rows[r][3]);
    }
    float y[4][4];
    for (int c = 0; c < 4; c++) {
        REDUCE(SCALAR_ADD, SCALAR_SUB, SCALAR_MUL, 2.0f, 4.0f, 8.0f, rows[0][c], rows[1][c], rows[2][c], rows[3][c],
               rows[4][c], rows[5][c], y[0][c], y[1][c], y[2][c], y[3][c]);
    }
    long columns = output_width - 4 * j < 4 ? output_width - 4 * j : 4;
    for (long r = 0; r < row_count; r++) {
        for (long c = 0; c < columns; c++) output[r * output_width + 4 * j + c] = y[r][c];
    }
}

static void vertical_pass(const float *padded, long width, float *vertical) {
    const float *d0 = padded, *d1 = padded + width, *d2 = padded + 2 * width, *d3 = padded + 3 * width;
    const float *d4 = padded + 4 * width, *d5 = padded + 5 * width;
    for (long x = 0; x < width; x++) {
        EXPAND(SCALAR_ADD, SCALAR_SUB, SCALAR_MUL, 4.0f, 5.0f, 2.0f, d0[x], d1[x], d2[x], d3[x], d4[x], d5[x],
               vertical[x], vertical[width + x], vertical[2 * width + x], vertical[3 * width + x],
               vertical[4 * width + x], vertical[5 * width + x]);
    }
}

static void input_tile_scalar(const float *vertical, long width, long j, float *transformed, long position_stride) {
    for (int k = 0; k < 6; k++) {
        const float *p = vertical + k * width + 4 * j;
        float *v = transformed + (6 * k) * position_stride + j;
        EXPAND(SCALAR_ADD, SCALAR_SUB, SCALAR_MUL, 4.0f, 5.0f, 2.0f, p[0], p[1], p[2], p[3], p[4], p[5],
               v[0], v[position_stride], v[2 * position_stride], v[3 * position_stride], v[4 * position_stride],
               v[5 * position_stride]);
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
static void output_block_avx512(const float *products, long position_stride, long j, long count, float *output,
                                long output_width, long row_count) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), eight = _mm512_set1_ps(8.0f);
    const __mmask16 load = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    __m512 rows[6][4];
    for (int r = 0; r < 6; r++) {
        const float *m = products + (6 * r) * position_stride + j;
        __m512 m0 = _mm512_maskz_loadu_ps(load, m), m1 = _mm512_maskz_loadu_ps(load, m + position_stride);
        __m512 m2 = _mm512_maskz_loadu_ps(load, m + 2 * position_stride);
        __m512 m3 = _mm512_maskz_loadu_ps(load, m + 3 * position_stride);
        __m512 m4 = _mm512_maskz_loadu_ps(load, m + 4 * position_stride);
        __m512 m5 = _mm512_maskz_loadu_ps(load, m + 5 * position_stride);
        REDUCE(_mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, two, four, eight, m0, m1, m2, m3, m4, m5,
               rows[r][0], rows[r][1], rows[r][2], rows[r][3]);
    }
    // Column c of the 16 tiles' outputs, one vector per output row.
    __m512 y[4][4];
    for (int c = 0; c < 4; c++) {
        REDUCE(_mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, two, four, eight, rows[0][c], rows[1][c], rows[2][c],
               rows[3][c], rows[4][c], rows[5][c], y[0][c], y[1][c], y[2][c], y[3][c]);
    }
    // Interleave columns a, b, c, d (lane t = tile t) into a0 b0 c0 d0 a1 b1 c1 d1 …
    const __m512i pair_low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i pair_high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    const __m512i quad_low = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11);
    const __m512i quad_high = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    // Columns 4j … 4j + 63 of each row, those inside it (a last tile may hang over the edge).
    long columns = output_width - 4 * j;
    __mmask16 stores[4];
    for (int i = 0; i < 4; i++) {
        long left = columns - 16 * i;
        stores[i] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
    for (long r = 0; r < row_count; r++) {
        __m512 ab_low = _mm512_permutex2var_ps(y[r][0], pair_low, y[r][1]);
        __m512 ab_high = _mm512_permutex2var_ps(y[r][0], pair_high, y[r][1]);
        __m512 cd_low = _mm512_permutex2var_ps(y[r][2], pair_low, y[r][3]);
        __m512 cd_high = _mm512_permutex2var_ps(y[r][2], pair_high, y[r][3]);
        __m512d ab_low_d = _mm512_castps_pd(ab_low), ab_high_d = _mm512_castps_pd(ab_high);
        __m512d cd_low_d = _mm512_castps_pd(cd_low), cd_high_d = _mm512_castps_pd(cd_high);
        float *destination = output + r * output_width + 4 * j;
        _mm512_mask_storeu_ps(destination, stores[0],
                              _mm512_castpd_ps(_mm512_permutex2var_pd(ab_low_d, quad_low, cd_low_d)));
        _mm512_mask_storeu_ps(destination + 16, stores[1],
                              _mm512_castpd_ps(_mm512_permutex2var_pd(ab_low_d, quad_high, cd_low_d)));
        _mm512_mask_storeu_ps(destination + 32, stores[2],
                              _mm512_castpd_ps(_mm512_permutex2var_pd(ab_high_d, quad_low, cd_high_d)));
        _mm512_mask_storeu_ps(destination + 48, stores[3],
                              _mm512_castpd_ps(_mm512_permutex2var_pd(ab_high_d, quad_high, cd_high_d)));
    }
}

__attribute__((target("avx512f")))
static void vertical_pass_avx512(const float *padded, long width, float *vertical) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    for (long x = 0; x < width; x += 16) {
        __mmask16 m = width - x >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (width - x)) - 1);
        __m512 d0 = _mm512_maskz_loadu_ps(m, padded + x), d1 = _mm512_maskz_loadu_ps(m, padded + width + x);
        __m512 d2 = _mm512_maskz_loadu_ps(m, padded + 2 * width + x), d3 = _mm512_maskz_loadu_ps(m, padded + 3 * width + x);
        __m512 d4 = _mm512_maskz_loadu_ps(m, padded + 4 * width + x), d5 = _mm512_maskz_loadu_ps(m, padded + 5 * width + x);
        __m512 v0, v1, v2, v3, v4, v5;
        EXPAND(_mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, four, five, two, d0, d1, d2, d3, d4, d5,
               v0, v1, v2, v3, v4, v5);
        _mm512_mask_storeu_ps(vertical + x, m, v0);
        _mm512_mask_storeu_ps(vertical + width + x, m, v1);
        _mm512_mask_storeu_ps(vertical + 2 * width + x, m, v2);
        _mm512_mask_storeu_ps(vertical + 3 * width + x, m, v3);
        _mm512_mask_storeu_ps(vertical + 4 * width + x, m, v4);
        _mm512_mask_storeu_ps(vertical + 5 * width + x, m, v5);
    }
}

/// Up to sixteen tiles from j (`count` of them): columns 4t + k of each transformed row, separated by two
/// rounds of permutes; a last, partial block loads and stores under masks.
__attribute__((target("avx512f")))
static void input_block_avx512(const float *vertical, long width, long j, long count, float *transformed,
                               long position_stride) {
    const __m512 four = _mm512_set1_ps(4.0f), five = _mm512_set1_ps(5.0f), two = _mm512_set1_ps(2.0f);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    long columns = width - 4 * j;                       // ≥ 4 · count + 2
    __mmask16 masks[4];
    for (int i = 0; i < 4; i++) {
        long left = columns - 16 * i;
        masks[i] = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
    }
    __mmask16 store = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    for (int k = 0; k < 6; k++) {
        const float *p = vertical + k * width + 4 * j;
        __m512 q0 = _mm512_maskz_loadu_ps(masks[0], p), q1 = _mm512_maskz_loadu_ps(masks[1], p + 16);
        __m512 q2 = _mm512_maskz_loadu_ps(masks[2], p + 32), q3 = _mm512_maskz_loadu_ps(masks[3], p + 48);
        __m512 low_even = _mm512_permutex2var_ps(q0, even, q1), low_odd = _mm512_permutex2var_ps(q0, odd, q1);
        __m512 high_even = _mm512_permutex2var_ps(q2, even, q3), high_odd = _mm512_permutex2var_ps(q2, odd, q3);
        __m512 x0 = _mm512_permutex2var_ps(low_even, even, high_even);
        __m512 x2 = _mm512_permutex2var_ps(low_even, odd, high_even);
        __m512 x1 = _mm512_permutex2var_ps(low_odd, even, high_odd);
        __m512 x3 = _mm512_permutex2var_ps(low_odd, odd, high_odd);
        // Columns 4t + 4 and 4t + 5 are columns 0 and 1 of tile t + 1; tile 16's only in a full block.
        float next0 = count >= 16 ? p[64] : 0.0f, next1 = count >= 16 ? p[65] : 0.0f;
        __m512 x4 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(next0)),
                                                            _mm512_castps_si512(x0), 1));
        __m512 x5 = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(_mm512_set1_ps(next1)),
                                                            _mm512_castps_si512(x1), 1));
        __m512 v0, v1, v2, v3, v4, v5;
        EXPAND(_mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps, four, five, two, x0, x1, x2, x3, x4, x5,
               v0, v1, v2, v3, v4, v5);
        float *v = transformed + (6 * k) * position_stride + j;
        _mm512_mask_storeu_ps(v, store, v0);
        _mm512_mask_storeu_ps(v + position_stride, store, v1);
        _mm512_mask_storeu_ps(v + 2 * position_stride, store, v2);
        _mm512_mask_storeu_ps(v + 3 * position_stride, store, v3);
        _mm512_mask_storeu_ps(v + 4 * position_stride, store, v4);
        _mm512_mask_storeu_ps(v + 5 * position_stride, store, v5);
    }
}
#endif

void landmark_winograd_f4_input_row(const float *padded, long width, float *vertical, long tile_columns,
                                    float *transformed, long position_stride, int vectorized) {
#if defined(__x86_64__)
    if (vectorized && landmark_cpu_has_avx512f()) {
        vertical_pass_avx512(padded, width, vertical);
        for (long j = 0; j < tile_columns; j += 16) {
            long count = tile_columns - j < 16 ? tile_columns - j : 16;
            input_block_avx512(vertical, width, j, count, transformed, position_stride);
        }
        return;
    }
#endif
    vertical_pass(padded, width, vertical);
    for (long j = 0; j < tile_columns; j++) input_tile_scalar(vertical, width, j, transformed, position_stride);
}

void landmark_winograd_f4_output_row(const float *products, long position_stride, long tile_columns,
                                     float *output, long output_width, long row_count, int vectorized) {
#if defined(__x86_64__)
    if (vectorized && landmark_cpu_has_avx512f()) {
        for (long j = 0; j < tile_columns; j += 16) {
            long count = tile_columns - j < 16 ? tile_columns - j : 16;
            output_block_avx512(products, position_stride, j, count, output, output_width, row_count);
        }
        return;
    }
#endif
    for (long j = 0; j < tile_columns; j++) output_tile_scalar(products, position_stride, j, output, output_width, row_count);
}
