// PIL's resize shrinks each row of a photograph with a window of twenty or more taps per output pixel;
// done one 4-lane tap at a time the horizontal pass was a tenth of indexing. Here five taps (fifteen RGB
// bytes) are widened and multiplied at once, and the fifteen products are folded into three channel sums
// with lane shifts. The vertical pass keeps sixteen sums in a register across all of a row's taps.
#include "ResamplingPasses.h"

static inline uint8_t clamp_fixed_point(int32_t value, int precision_bits) {
    if (value >= (int32_t)(1u << (precision_bits + 8))) return 255;
    if (value <= 0) return 0;
    return (uint8_t)(value >> precision_bits);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f")))
void landmark_resample_rows_rgb(const uint8_t *source, long source_count, long input_width, long first_row,
                                long row_count, const int32_t *bounds, const int32_t *weights, long groups,
                                long output_width, int32_t rounding, int precision_bits, uint8_t *output) {
    const __m512i zero = _mm512_setzero_si512();
    for (long r = 0; r < row_count; r++) {
        const uint8_t *row = source + (first_row + r) * input_width * 3;
        uint8_t *target = output + r * output_width * 3;
        for (long o = 0; o < output_width; o++) {
            long first = bounds[2 * o], length = bounds[2 * o + 1];
            const int32_t *w = weights + o * groups * 16;
            const uint8_t *start = row + first * 3;
            long used_groups = (length + LANDMARK_RESAMPLING_TAPS_PER_GROUP - 1) / LANDMARK_RESAMPLING_TAPS_PER_GROUP;
            int32_t red, green, blue;
            if ((start - source) + (used_groups - 1) * 15 + 16 <= source_count) {
                __m512i sum = zero;
                for (long g = 0; g < used_groups; g++) {
                    __m512i samples = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(start + 15 * g)));
                    sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(samples, _mm512_loadu_si512(w + 16 * g)));
                }
                // Lane c + 3j holds tap j of channel c: a + (a >> 6 lanes) pairs taps j and j + 2, then
                // adding that shifted by 12 and by 3 lanes brings in taps j + 4, j + 1 and j + 3.
                __m512i pairs = _mm512_add_epi32(sum, _mm512_alignr_epi32(zero, sum, 6));
                __m512i total = _mm512_add_epi32(pairs, _mm512_alignr_epi32(zero, pairs, 12));
                total = _mm512_add_epi32(total, _mm512_alignr_epi32(zero, pairs, 3));
                int32_t lanes[4];
                _mm_storeu_si128((__m128i *)lanes, _mm512_castsi512_si128(total));
                red = (int32_t)((uint32_t)rounding + (uint32_t)lanes[0]);
                green = (int32_t)((uint32_t)rounding + (uint32_t)lanes[1]);
                blue = (int32_t)((uint32_t)rounding + (uint32_t)lanes[2]);
            } else {
                uint32_t sums[3] = {(uint32_t)rounding, (uint32_t)rounding, (uint32_t)rounding};
                for (long t = 0; t < length; t++) {
                    uint32_t weight = (uint32_t)w[16 * (t / LANDMARK_RESAMPLING_TAPS_PER_GROUP)
                                                  + 3 * (t % LANDMARK_RESAMPLING_TAPS_PER_GROUP)];
                    for (int c = 0; c < 3; c++) sums[c] += (uint32_t)start[3 * t + c] * weight;
                }
                red = (int32_t)sums[0];
                green = (int32_t)sums[1];
                blue = (int32_t)sums[2];
            }
            target[3 * o] = clamp_fixed_point(red, precision_bits);
            target[3 * o + 1] = clamp_fixed_point(green, precision_bits);
            target[3 * o + 2] = clamp_fixed_point(blue, precision_bits);
        }
    }
}

__attribute__((target("avx512f")))
void landmark_resample_columns(const uint8_t *source, long row_length, const int32_t *bounds, const int32_t *weights,
                               long kernel_size, long output_rows, int32_t rounding, int precision_bits,
                               uint8_t *output) {
    const __m512i low = _mm512_setzero_si512();
    const __m512i high = _mm512_set1_epi32((int32_t)((1u << (precision_bits + 8)) - 1));
    const __m512i start = _mm512_set1_epi32(rounding);
    for (long o = 0; o < output_rows; o++) {
        long first = bounds[2 * o], length = bounds[2 * o + 1];
        const int32_t *w = weights + o * kernel_size;
        const uint8_t *rows = source + first * row_length;
        uint8_t *target = output + o * row_length;
        long column = 0;
        for (; column + 16 <= row_length; column += 16) {
            __m512i sum = start;
            for (long t = 0; t < length; t++) {
                __m512i samples = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(rows + t * row_length + column)));
                sum = _mm512_add_epi32(sum, _mm512_mullo_epi32(samples, _mm512_set1_epi32(w[t])));
            }
            // Clamping to [0, 2^(bits + 8) − 1] before the shift gives PIL's 0 and 255 at the ends.
            sum = _mm512_srai_epi32(_mm512_min_epi32(_mm512_max_epi32(sum, low), high), (unsigned)precision_bits);
            _mm_storeu_si128((__m128i *)(target + column), _mm512_cvtepi32_epi8(sum));
        }
        for (; column < row_length; column++) {
            uint32_t sum = (uint32_t)rounding;
            for (long t = 0; t < length; t++) sum += (uint32_t)rows[t * row_length + column] * (uint32_t)w[t];
            target[column] = clamp_fixed_point((int32_t)sum, precision_bits);
        }
    }
}

#else

void landmark_resample_columns(const uint8_t *source, long row_length, const int32_t *bounds, const int32_t *weights,
                               long kernel_size, long output_rows, int32_t rounding, int precision_bits,
                               uint8_t *output) {
    (void)source; (void)row_length; (void)bounds; (void)weights; (void)kernel_size; (void)output_rows; (void)rounding;
    (void)precision_bits; (void)output;
}

void landmark_resample_rows_rgb(const uint8_t *source, long source_count, long input_width, long first_row,
                                long row_count, const int32_t *bounds, const int32_t *weights, long groups,
                                long output_width, int32_t rounding, int precision_bits, uint8_t *output) {
    (void)source; (void)source_count; (void)input_width; (void)first_row; (void)row_count; (void)bounds; (void)weights;
    (void)groups; (void)output_width; (void)rounding; (void)precision_bits; (void)output;
}

#endif
