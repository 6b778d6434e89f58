// SIFT's scale space is a dozen Gaussian blurs of images of up to 2048 × 1536 floats: the widest loop of
// the extractor. Swift compiles for SSE2; here sixteen lanes at a time, same arithmetic, same bits.
#include "SeparableBlur.h"
#include "CPUFeatures.h"

#pragma STDC FP_CONTRACT OFF

static long reflect101(long index, long count) {
    if (count <= 1) return 0;
    while (index < 0 || index >= count) {
        if (index < 0) index = -index;
        if (index >= count) index = 2 * count - 2 - index;
    }
    return index;
}

#if defined(__x86_64__)
#include <immintrin.h>

int landmark_separable_blur_available(void) { return landmark_cpu_has_avx512f(); }

/// Wider kernels take the Swift loops (SIFT's σ ≤ 8 gives radius 33).
#define MAXIMUM_RADIUS 64

__attribute__((target("avx512f")))
static void blur_rows(const float *input, float *output, long width, long height, const float *weights, long radius,
                      long first_row, long last_row, float *scratch) {
    float *row = scratch + radius;
    const __m512 centre = _mm512_set1_ps(weights[0]);
    for (long y = first_row; y < last_row; y++) {
        // Vertical pass a whole row at a time: three streams (the row buffer, one row above, one below)
        // rather than all 2·radius + 1 rows at once, which defeats the prefetchers.
        const float *middle = input + y * width;
        long x = 0;
        for (; x + 16 <= width; x += 16) _mm512_storeu_ps(row + x, _mm512_mul_ps(centre, _mm512_loadu_ps(middle + x)));
        for (; x < width; x++) row[x] = weights[0] * middle[x];
        for (long offset = 1; offset <= radius; offset++) {
            const float *above = input + reflect101(y - offset, height) * width;
            const float *below = input + reflect101(y + offset, height) * width;
            const __m512 weight = _mm512_set1_ps(weights[offset]);
            x = 0;
            for (; x + 16 <= width; x += 16) {
                __m512 pair = _mm512_add_ps(_mm512_loadu_ps(above + x), _mm512_loadu_ps(below + x));
                _mm512_storeu_ps(row + x, _mm512_add_ps(_mm512_loadu_ps(row + x), _mm512_mul_ps(weight, pair)));
            }
            for (; x < width; x++) {
                float pair = above[x] + below[x];
                float product = weights[offset] * pair;
                row[x] = row[x] + product;
            }
        }
        for (long offset = 1; offset <= radius; offset++) {
            row[-offset] = row[reflect101(-offset, width)];
            row[width - 1 + offset] = row[reflect101(width - 1 + offset, width)];
        }
        float *destination = output + y * width;
        x = 0;
        for (; x + 16 <= width; x += 16) {
            __m512 sum = _mm512_mul_ps(centre, _mm512_loadu_ps(row + x));
            for (long offset = 1; offset <= radius; offset++) {
                __m512 pair = _mm512_add_ps(_mm512_loadu_ps(row + x - offset), _mm512_loadu_ps(row + x + offset));
                sum = _mm512_add_ps(sum, _mm512_mul_ps(_mm512_set1_ps(weights[offset]), pair));
            }
            _mm512_storeu_ps(destination + x, sum);
        }
        for (; x < width; x++) {
            float sum = weights[0] * row[x];
            for (long offset = 1; offset <= radius; offset++) {
                float pair = row[x - offset] + row[x + offset];
                float product = weights[offset] * pair;
                sum = sum + product;
            }
            destination[x] = sum;
        }
    }
}

void landmark_separable_blur_rows(const float *input, float *output, long width, long height, const float *weights,
                                  long radius, long first_row, long last_row, float *scratch) {
    if (!landmark_cpu_has_avx512f() || radius > MAXIMUM_RADIUS || width <= 0 || height <= 0) return;
    blur_rows(input, output, width, height, weights, radius, first_row, last_row, scratch);
}

#else

int landmark_separable_blur_available(void) { return 0; }

void landmark_separable_blur_rows(const float *input, float *output, long width, long height, const float *weights,
                                  long radius, long first_row, long last_row, float *scratch) {
    (void)input; (void)output; (void)width; (void)height; (void)weights; (void)radius;
    (void)first_row; (void)last_row; (void)scratch;
}

#endif
