// Winograd F(4 × 4, 3 × 3)'s output transform reads 36 products per tile and writes 16 outputs four
// columns apart per tile: scalar Swift spent a twelfth of ResNet's 3 × 3 layers here. Sixteen tiles per
// vector, the 4 × 4 blocks interleaved back into rows with two rounds of permutes.
#include "WinogradTransforms.h"

#pragma STDC FP_CONTRACT OFF

// Aᵀ applied to six values; the same expression tree in the scalar and vector paths.
#define REDUCE(add, sub, mul, two, four, eight, m0, m1, m2, m3, m4, m5, y0, y1, y2, y3) do { \
        __typeof__(m0) s12 = add(m1, m2), d12 = sub(m1, m2), s34 = add(m3, m4), d34 = sub(m3, m4); \
        y0 = add(add(m0, s12), s34); \
        y1 = add(d12, mul(two, d34)); \
        y2 = add(s12, mul(four, s34)); \
        y3 = add(add(d12, mul(eight, d34)), m5); \
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

#if defined(__x86_64__)
#include <immintrin.h>

static int avx512_available = 0;

__attribute__((constructor)) static void detect_winograd(void) {
    __builtin_cpu_init();
    avx512_available = __builtin_cpu_supports("avx512f");
}

__attribute__((target("avx512f")))
static void output_block_avx512(const float *products, long position_stride, long j, float *output,
                                long output_width, long row_count) {
    const __m512 two = _mm512_set1_ps(2.0f), four = _mm512_set1_ps(4.0f), eight = _mm512_set1_ps(8.0f);
    __m512 rows[6][4];
    for (int r = 0; r < 6; r++) {
        const float *m = products + (6 * r) * position_stride + j;
        __m512 m0 = _mm512_loadu_ps(m), m1 = _mm512_loadu_ps(m + position_stride);
        __m512 m2 = _mm512_loadu_ps(m + 2 * position_stride), m3 = _mm512_loadu_ps(m + 3 * position_stride);
        __m512 m4 = _mm512_loadu_ps(m + 4 * position_stride), m5 = _mm512_loadu_ps(m + 5 * position_stride);
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
    for (long r = 0; r < row_count; r++) {
        __m512 ab_low = _mm512_permutex2var_ps(y[r][0], pair_low, y[r][1]);
        __m512 ab_high = _mm512_permutex2var_ps(y[r][0], pair_high, y[r][1]);
        __m512 cd_low = _mm512_permutex2var_ps(y[r][2], pair_low, y[r][3]);
        __m512 cd_high = _mm512_permutex2var_ps(y[r][2], pair_high, y[r][3]);
        __m512d ab_low_d = _mm512_castps_pd(ab_low), ab_high_d = _mm512_castps_pd(ab_high);
        __m512d cd_low_d = _mm512_castps_pd(cd_low), cd_high_d = _mm512_castps_pd(cd_high);
        float *destination = output + r * output_width + 4 * j;
        _mm512_storeu_ps(destination, _mm512_castpd_ps(_mm512_permutex2var_pd(ab_low_d, quad_low, cd_low_d)));
        _mm512_storeu_ps(destination + 16, _mm512_castpd_ps(_mm512_permutex2var_pd(ab_low_d, quad_high, cd_low_d)));
        _mm512_storeu_ps(destination + 32, _mm512_castpd_ps(_mm512_permutex2var_pd(ab_high_d, quad_low, cd_high_d)));
        _mm512_storeu_ps(destination + 48, _mm512_castpd_ps(_mm512_permutex2var_pd(ab_high_d, quad_high, cd_high_d)));
    }
}
#endif

void landmark_winograd_f4_output_row(const float *products, long position_stride, long tile_columns,
                                     float *output, long output_width, long row_count) {
    long j = 0;
#if defined(__x86_64__)
    if (avx512_available) {
        // Whole blocks only: sixteen tiles whose 64 columns all lie inside the row.
        for (; j + 16 <= tile_columns && 4 * (j + 16) <= output_width; j += 16) {
            output_block_avx512(products, position_stride, j, output, output_width, row_count);
        }
    }
#endif
    for (; j < tile_columns; j++) output_tile_scalar(products, position_stride, j, output, output_width, row_count);
}
