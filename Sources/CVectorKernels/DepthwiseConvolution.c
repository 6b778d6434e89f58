// EfficientNet-Lite's depthwise layers do little arithmetic on large maps, so memory passes decide their
// time: the Swift loops (SSE2, no fused multiply-add) copy each channel into a zero-bordered plane, zero
// each output row, read and write it once per kernel row and once more for the epilogue. Here the input is
// read in place (the border comes from load masks), each vector of sixteen outputs stays in a register
// from the first tap to the activation, and four output rows share the loads of the input rows they read.
#include "DepthwiseConvolution.h"
#include "ConvolutionEpilogue.h"

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

enum { ROWS_AT_ONCE = 4 };

/// Epilogue and store of one vector of outputs.
__attribute__((target("avx512f")))
static inline void finish_and_store(__m512 sum, __m512 bias, const float *residual, int activation, float *output,
                                    __mmask16 store) {
    _mm512_mask_storeu_ps(output, store, landmark_convolution_epilogue(sum, bias, residual, store, activation));
}

/// Adds window row i's shifted input vectors to the sums of the group's output rows that read it: the
/// row is tap row i − stride · r of output row r. With constant arguments the loops unroll in full and
/// the rows that take no tap drop out.
__attribute__((target("avx512f"), always_inline))
static inline void add_window_row(__m512 *sums, const __m512 *values, const __m512 *taps, const long kernel,
                                  const long group, const long stride, long i) {
#pragma clang loop unroll(full)
    for (long r = 0; r < group; r++) {
        long ky = i - stride * r;
        if (ky < 0 || ky >= kernel) continue;
#pragma clang loop unroll(full)
        for (long kx = 0; kx < kernel; kx++) sums[r] = _mm512_fmadd_ps(taps[ky * kernel + kx], values[kx], sums[r]);
    }
}

/// The epilogue and store of the group's sixteen-column block at x, row by row.
__attribute__((target("avx512f"), always_inline))
static inline void finish_group(const __m512 *sums, const long group, __m512 bias, const float *residual,
                                int activation, float *output, long output_width, long x, __mmask16 store) {
    for (long r = 0; r < group; r++) {
        long offset = r * output_width + x;
        finish_and_store(sums[r], bias, residual ? residual + offset : 0, activation, output + offset, store);
    }
}

/// Stride 1: up to four output rows at a time, so that each input row's shifted vectors are loaded once
/// for every output row that reads them (5 × 8 loads instead of 25 × 4 for a 5 × 5 filter) and four
/// independent sums keep the FMA pipes busy. Each sum still takes its taps with ky, then kx, ascending.
/// `kernel` and `group` (the rows of this group) are constants at every call, so the loops unroll in
/// full and the taps no output row takes drop out.
__attribute__((target("avx512f"), always_inline))
static inline void stride_one_group(const float *input, long input_height, long input_width, long ring_rows,
                                    long pad_top, long pad_left, const __m512 *taps, const long kernel,
                                    const long group, long y, long output_width, __m512 bias,
                                    const float *residual, int activation, float *output) {
    long first_input = y - pad_top, last_input = y + group - 1 - pad_top + kernel;
    if (first_input < 0) first_input = 0;
    if (last_input > input_height) last_input = input_height;
    const float *row_pointers[ROWS_AT_ONCE + 4];
    for (long r = first_input; r < last_input; r++) {
        row_pointers[r - first_input] = input + (ring_rows > 0 ? r % ring_rows : r) * input_width;
    }
    for (long x = 0; x < output_width; x += 16) {
        __mmask16 store = mask_for(output_width - x);
        __mmask16 masks[5];
        for (long kx = 0; kx < kernel; kx++) masks[kx] = store & inside(x + kx - pad_left, input_width);
        __m512 sums[ROWS_AT_ONCE];
        for (long r = 0; r < group; r++) sums[r] = _mm512_setzero_ps();
        // Window row i is input row y − pad_top + i, tap row i − r of output row y + r.
#pragma clang loop unroll(full)
        for (long i = 0; i < kernel + group - 1; i++) {
            long input_row = y - pad_top + i;
            if (input_row < first_input || input_row >= last_input) continue;
            // Masked lanes are never read, so the address may point before the row.
            const float *start = row_pointers[input_row - first_input] + x - pad_left;
            __m512 values[5];
#pragma clang loop unroll(full)
            for (long kx = 0; kx < kernel; kx++) values[kx] = _mm512_maskz_loadu_ps(masks[kx], start + kx);
            add_window_row(sums, values, taps, kernel, group, 1, i);
        }
        finish_group(sums, group, bias, residual, activation, output, output_width, x, store);
    }
}

/// Widest stride-2 output row whose deinterleaved input rows fit the stack buffers.
enum { STRIDE_TWO_WIDTH_LIMIT = 512, STRIDE_TWO_HALF = STRIDE_TWO_WIDTH_LIMIT + 32,
       STRIDE_TWO_ROWS = 2 * (ROWS_AT_ONCE - 1) + 5 };

/// Stride 2: up to four output rows at a time. Each input row they read is split once into its even
/// and odd columns (zero outside the row, so the taps need no masks); tap kx of output x is then column
/// x + kx / 2 of the even or odd half, one unaligned load. Before, every output row split each of its
/// input rows again, with four permutes and three lane shifts per sixteen outputs. Each sum still takes
/// its taps with ky, then kx, ascending, as the layer-by-layer path did.
__attribute__((target("avx512f"), always_inline))
static inline void stride_two_group(const float *input, long input_height, long input_width, long ring_rows,
                                    long pad_top, long pad_left, const __m512 *taps, const long kernel,
                                    const long group, long y, long output_width, __m512 bias,
                                    const float *residual, int activation, float *output,
                                    float (*halves)[2][STRIDE_TWO_HALF]) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // Column j of a half: padded column 2j (even) or 2j + 1 (odd), padded column c being input column
    // c − pad_left. Outputs up to the next multiple of 16 read columns up to that + kernel / 2.
    long half_width = 16 * ((output_width + 15) / 16) + 16;
    long first_input = 2 * y - pad_top, last_input = 2 * (y + group - 1) - pad_top + kernel;
    if (first_input < 0) first_input = 0;
    if (last_input > input_height) last_input = input_height;
    for (long r = first_input; r < last_input; r++) {
        const float *row = input + (ring_rows > 0 ? r % ring_rows : r) * input_width;
        float *evens = halves[r - first_input][0], *odds = halves[r - first_input][1];
        for (long j = 0; j < half_width; j += 16) {
            long column = 2 * j - pad_left;
            __m512 v0 = _mm512_maskz_loadu_ps(inside(column, input_width), row + column);
            __m512 v1 = _mm512_maskz_loadu_ps(inside(column + 16, input_width), row + column + 16);
            _mm512_store_ps(evens + j, _mm512_permutex2var_ps(v0, even, v1));
            _mm512_store_ps(odds + j, _mm512_permutex2var_ps(v0, odd, v1));
        }
    }
    for (long x = 0; x < output_width; x += 16) {
        __mmask16 store = mask_for(output_width - x);
        __m512 sums[ROWS_AT_ONCE];
        for (long r = 0; r < group; r++) sums[r] = _mm512_setzero_ps();
        // Window row i is input row 2y − pad_top + i, tap row i − 2r of output row y + r.
#pragma clang loop unroll(full)
        for (long i = 0; i < kernel + 2 * (group - 1); i++) {
            long input_row = 2 * y - pad_top + i;
            if (input_row < first_input || input_row >= last_input) continue;
            const float *evens = halves[input_row - first_input][0], *odds = halves[input_row - first_input][1];
            __m512 values[5];
#pragma clang loop unroll(full)
            for (long kx = 0; kx < kernel; kx++) values[kx] = _mm512_loadu_ps((kx % 2 == 0 ? evens : odds) + x + kx / 2);
            add_window_row(sums, values, taps, kernel, group, 2, i);
        }
        finish_group(sums, group, bias, residual, activation, output, output_width, x, store);
    }
}

/// Groups of four rows, then one group of the one to three left, each with its own unrolled code.
#define FOR_EACH_GROUP(call)                                                                              \
    for (long band_row = 0; band_row < output_rows; band_row += ROWS_AT_ONCE) {                           \
        long left = output_rows - band_row, y = first_output_row + band_row;                              \
        const float *group_residual = residual ? residual + band_row * output_width : 0;                  \
        float *group_output = output + band_row * output_width;                                           \
        if (left >= 4) { call(4); } else if (left == 3) { call(3); } else if (left == 2) { call(2); }     \
        else { call(1); }                                                                                 \
    }

__attribute__((target("avx512f")))
static void stride_one_rows(const float *input, long input_height, long input_width, long ring_rows, long pad_top,
                            long pad_left, const float *weights, const long kernel, long first_output_row,
                            long output_rows, long output_width, __m512 bias, const float *residual, int activation,
                            float *output) {
    __m512 taps[25];
    for (long t = 0; t < kernel * kernel; t++) taps[t] = _mm512_set1_ps(weights[t]);
#define STRIDE_ONE_GROUP(rows)                                                                            \
    if (kernel == 3) {                                                                                    \
        stride_one_group(input, input_height, input_width, ring_rows, pad_top, pad_left, taps, 3, rows, y,  \
                         output_width, bias, group_residual, activation, group_output);                   \
    } else {                                                                                              \
        stride_one_group(input, input_height, input_width, ring_rows, pad_top, pad_left, taps, 5, rows, y,  \
                         output_width, bias, group_residual, activation, group_output);                   \
    }
    FOR_EACH_GROUP(STRIDE_ONE_GROUP)
#undef STRIDE_ONE_GROUP
}

__attribute__((target("avx512f")))
static void stride_two_rows(const float *input, long input_height, long input_width, long ring_rows, long pad_top,
                            long pad_left, const float *weights, const long kernel, long first_output_row,
                            long output_rows, long output_width, __m512 bias, const float *residual, int activation,
                            float *output) {
    __m512 taps[25];
    for (long t = 0; t < kernel * kernel; t++) taps[t] = _mm512_set1_ps(weights[t]);
    float halves[STRIDE_TWO_ROWS][2][STRIDE_TWO_HALF] __attribute__((aligned(64)));
#define STRIDE_TWO_GROUP(rows)                                                                            \
    if (kernel == 3) {                                                                                    \
        stride_two_group(input, input_height, input_width, ring_rows, pad_top, pad_left, taps, 3, rows, y,  \
                         output_width, bias, group_residual, activation, group_output, halves);           \
    } else {                                                                                              \
        stride_two_group(input, input_height, input_width, ring_rows, pad_top, pad_left, taps, 5, rows, y,  \
                         output_width, bias, group_residual, activation, group_output, halves);           \
    }
    FOR_EACH_GROUP(STRIDE_TWO_GROUP)
#undef STRIDE_TWO_GROUP
}

__attribute__((target("avx512f")))
void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long ring_rows,
                                            long pad_top, long pad_left, const float *weights, long kernel, long stride,
                                            long first_output_row, long output_rows, long output_width, float bias,
                                            const float *residual, int activation, float *output) {
    if (stride == 1 || output_width <= STRIDE_TWO_WIDTH_LIMIT) {
        (stride == 1 ? stride_one_rows : stride_two_rows)(input, input_height, input_width, ring_rows, pad_top, pad_left,
                                                          weights, kernel, first_output_row, output_rows, output_width,
                                                          _mm512_set1_ps(bias), residual, activation, output);
        return;
    }
    // Stride-2 rows wider than the stack buffers: each output row splits its own input rows, sixteen
    // outputs at a time (columns 2x − pad_left … + 47, zero outside the row).
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    const __m512 bias_vector = _mm512_set1_ps(bias);
    __m512 taps[25];
    for (long t = 0; t < kernel * kernel; t++) taps[t] = _mm512_set1_ps(weights[t]);
    for (long band_row = 0; band_row < output_rows; band_row++) {
        long y = first_output_row + band_row;
        for (long x = 0; x < output_width; x += 16) {
            __mmask16 masks[3];
            for (long i = 0; i < 3; i++) masks[i] = inside(2 * x - pad_left + 16 * i, input_width);
            __m512 sum = _mm512_setzero_ps();
            for (long ky = 0; ky < kernel; ky++) {
                long input_row = 2 * y + ky - pad_top;
                // A tap on a padding row adds w · 0: the sum is unchanged, so it is left out.
                if (input_row < 0 || input_row >= input_height) continue;
                const float *start = input + (ring_rows > 0 ? input_row % ring_rows : input_row) * input_width + 2 * x - pad_left;
                __m512 v0 = _mm512_maskz_loadu_ps(masks[0], start);
                __m512 v1 = _mm512_maskz_loadu_ps(masks[1], start + 16);
                __m512 v2 = _mm512_maskz_loadu_ps(masks[2], start + 32);
                __m512i e = _mm512_castps_si512(_mm512_permutex2var_ps(v0, even, v1));
                __m512i o = _mm512_castps_si512(_mm512_permutex2var_ps(v0, odd, v1));
                __m512i ne = _mm512_castps_si512(_mm512_permutex2var_ps(v2, even, v2));
                __m512i no = _mm512_castps_si512(_mm512_permutex2var_ps(v2, odd, v2));
                // Tap kx reads column 2(x + t) + kx: evens shifted by kx / 2 for even kx, odds for odd.
                __m512 columns[5];
                columns[0] = _mm512_castsi512_ps(e);
                columns[1] = _mm512_castsi512_ps(o);
                columns[2] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, e, 1));
                columns[3] = _mm512_castsi512_ps(_mm512_alignr_epi32(no, o, 1));
                columns[4] = _mm512_castsi512_ps(_mm512_alignr_epi32(ne, e, 2));
                for (long kx = 0; kx < kernel; kx++) sum = _mm512_fmadd_ps(taps[ky * kernel + kx], columns[kx], sum);
            }
            long offset = band_row * output_width + x;
            finish_and_store(sum, bias_vector, residual ? residual + offset : 0, activation, output + offset,
                             mask_for(output_width - x));
        }
    }
}

#else

void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long ring_rows,
                                            long pad_top, long pad_left, const float *weights, long kernel, long stride,
                                            long first_output_row, long output_rows, long output_width, float bias,
                                            const float *residual, int activation, float *output) {
    (void)input; (void)input_height; (void)input_width; (void)ring_rows; (void)pad_top; (void)pad_left; (void)weights; (void)kernel;
    (void)stride; (void)first_output_row; (void)output_rows; (void)output_width; (void)bias; (void)residual; (void)activation;
    (void)output;
}

#endif
