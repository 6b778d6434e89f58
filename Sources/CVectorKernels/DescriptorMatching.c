// Pair verification spends most of its time finding each keypoint's two nearest descriptors in the other
// image: ~1000 × 1000 × 128 multiply-adds. 8-bit products with VNNI do four times as many per instruction
// as float FMA, and the few candidates that quantisation could have misordered are scored again in float.
#include "DescriptorMatching.h"
#include "VectorKernels.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>

static int matcher_available = 0;

__attribute__((constructor)) static void detect_matcher(void) {
    __builtin_cpu_init();
    // The float rescoring uses the project's AVX2 + FMA inner product (VectorKernels.c).
    matcher_available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
                        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int landmark_descriptor_matcher_available(void) { return matcher_available; }

/// Query rows handled together: each packed train vector is loaded once for this many products.
#define BLOCK_ROWS 8
/// Train rows per packed group: the 16 int32 lanes of one 512-bit register.
#define LANES 16
/// Candidates per query row: the two best of every lane.
#define CANDIDATES (2 * LANES)

/// The two best (smallest score, then lowest index) of every lane for BLOCK_ROWS query rows.
/// `query_words` holds each row's 8-bit components four to an int32; `packed` holds, per group of 16 train
/// rows and per chunk of 4 components, the 16 rows' 4 bytes side by side (one 64-byte vector).
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
static void lane_candidates(const int32_t *query_words, long chunks, const uint8_t *packed, const int32_t *norms,
                            long groups, int32_t *best_scores, int32_t *best_indices) {
    __m512i first[BLOCK_ROWS], second[BLOCK_ROWS], first_index[BLOCK_ROWS], second_index[BLOCK_ROWS];
    for (int row = 0; row < BLOCK_ROWS; row++) {
        first[row] = second[row] = _mm512_set1_epi32(INT32_MAX);
        first_index[row] = second_index[row] = _mm512_set1_epi32(-1);
    }
    const __m512i lane_offsets = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (long group = 0; group < groups; group++) {
        __m512i sums[BLOCK_ROWS];
        for (int row = 0; row < BLOCK_ROWS; row++) sums[row] = _mm512_setzero_si512();
        const uint8_t *vectors = packed + group * chunks * 64;
        for (long chunk = 0; chunk < chunks; chunk++) {
            __m512i train = _mm512_load_si512((const void *)(vectors + chunk * 64));
            for (int row = 0; row < BLOCK_ROWS; row++) {
                sums[row] = _mm512_dpbusd_epi32(sums[row], train, _mm512_set1_epi32(query_words[row * chunks + chunk]));
            }
        }
        __m512i norm = _mm512_load_si512((const void *)(norms + group * LANES));
        __m512i index = _mm512_add_epi32(lane_offsets, _mm512_set1_epi32((int32_t)(group * LANES)));
        for (int row = 0; row < BLOCK_ROWS; row++) {
            __m512i score = _mm512_sub_epi32(norm, _mm512_slli_epi32(sums[row], 1));
            __mmask16 beats_first = _mm512_cmplt_epi32_mask(score, first[row]);
            __mmask16 beats_second = _mm512_cmplt_epi32_mask(score, second[row]);
            second[row] = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(second[row], beats_second, score), beats_first, first[row]);
            second_index[row] = _mm512_mask_mov_epi32(_mm512_mask_mov_epi32(second_index[row], beats_second, index),
                                                      beats_first, first_index[row]);
            first[row] = _mm512_mask_mov_epi32(first[row], beats_first, score);
            first_index[row] = _mm512_mask_mov_epi32(first_index[row], beats_first, index);
        }
    }
    for (int row = 0; row < BLOCK_ROWS; row++) {
        _mm512_storeu_si512((void *)(best_scores + row * CANDIDATES), first[row]);
        _mm512_storeu_si512((void *)(best_scores + row * CANDIDATES + LANES), second[row]);
        _mm512_storeu_si512((void *)(best_indices + row * CANDIDATES), first_index[row]);
        _mm512_storeu_si512((void *)(best_indices + row * CANDIDATES + LANES), second_index[row]);
    }
}

static void *aligned(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded == 0 ? 64 : rounded);
}

/// The sum of `count` floats (sixteen lanes, then the tail).
__attribute__((target("avx512f")))
static float float_sum(const float *values, long count) {
    __m512 sum = _mm512_setzero_ps();
    long position = 0;
    for (; position + 16 <= count; position += 16) sum = _mm512_add_ps(sum, _mm512_loadu_ps(values + position));
    float total = _mm512_reduce_add_ps(sum);
    for (; position < count; position++) total += values[position];
    return total;
}

/// The largest of `count` floats, or −1 when one is negative or NaN.
__attribute__((target("avx512f")))
static float non_negative_maximum(const float *values, long count) {
    __m512 largest = _mm512_setzero_ps();
    const __m512 zero = _mm512_setzero_ps();
    __mmask16 invalid = 0;
    long position = 0;
    for (; position + 16 <= count; position += 16) {
        __m512 block = _mm512_loadu_ps(values + position);
        invalid |= _mm512_cmp_ps_mask(block, zero, _CMP_NGE_UQ);
        largest = _mm512_max_ps(largest, block);
    }
    if (invalid) return -1;
    float result = _mm512_reduce_max_ps(largest);
    for (; position < count; position++) {
        if (!(values[position] >= 0)) return -1;
        if (values[position] > result) result = values[position];
    }
    return result;
}

/// round(value × factor) of non-negative values into bytes (adding ½ then truncating).
__attribute__((target("avx512f,avx512bw,avx512vl")))
static void quantize_row(const float *values, long count, float factor, uint8_t *bytes) {
    const __m512 scale = _mm512_set1_ps(factor), half = _mm512_set1_ps(0.5f);
    long position = 0;
    for (; position + 16 <= count; position += 16) {
        __m512i rounded = _mm512_cvttps_epi32(_mm512_fmadd_ps(_mm512_loadu_ps(values + position), scale, half));
        _mm_storeu_si128((__m128i *)(bytes + position), _mm512_cvtepi32_epi8(rounded));
    }
    for (; position < count; position++) bytes[position] = (uint8_t)(int32_t)(values[position] * factor + 0.5f);
}

void landmark_matching_set_release(landmark_matching_set *set) {
    if (!set) return;
    free(set->query_words); free(set->packed); free(set->norms); free(set->l1);
    memset(set, 0, sizeof(*set));
}

int landmark_matching_set_prepare(const float *values, long count, long dimension, landmark_matching_set *set) {
    memset(set, 0, sizeof(*set));
    if (!matcher_available) return LANDMARK_MATCHER_UNAVAILABLE;
    if (count <= 0 || dimension <= 0 || dimension > 1024 || count > INT32_MAX / 2) return LANDMARK_MATCHER_UNSUITED;
    // The largest component becomes 127 as a query (signed bytes) and 255 as train rows (unsigned bytes).
    float largest = non_negative_maximum(values, count * dimension);
    if (!(largest > 0) || !isfinite(largest)) return LANDMARK_MATCHER_UNSUITED;
    const long chunks = (dimension + 3) / 4;
    const long groups = (count + LANES - 1) / LANES;
    const long padded_rows = (count + BLOCK_ROWS - 1) / BLOCK_ROWS * BLOCK_ROWS;
    set->count = count;
    set->dimension = dimension;
    set->query_scale = 127.0f / largest;
    set->train_scale = 255.0f / largest;
    set->largest = largest;
    set->query_words = aligned((size_t)(padded_rows * chunks) * sizeof(int32_t));
    set->packed = aligned((size_t)(groups * chunks * 64));
    set->norms = aligned((size_t)count * sizeof(float));
    set->l1 = aligned((size_t)count * sizeof(float));
    if (!set->query_words || !set->packed || !set->norms || !set->l1) {
        landmark_matching_set_release(set);
        return LANDMARK_MATCHER_OUT_OF_MEMORY;
    }
    // Padding rows and components are zero. Components are non-negative, so adding ½ and truncating
    // rounds to nearest.
    memset(set->query_words, 0, (size_t)(padded_rows * chunks) * sizeof(int32_t));
    memset(set->packed, 0, (size_t)(groups * chunks * 64));
    uint8_t row_bytes[1024 + 4];
    for (long row = 0; row < count; row++) {
        const float *row_values = values + row * dimension;
        quantize_row(row_values, dimension, set->query_scale, (uint8_t *)(set->query_words + row * chunks));
        memset(row_bytes, 0, (size_t)(chunks * 4));
        quantize_row(row_values, dimension, set->train_scale, row_bytes);
        uint8_t *lane = set->packed + (row / LANES) * chunks * 64 + (row % LANES) * 4;
        for (long chunk = 0; chunk < chunks; chunk++) memcpy(lane + chunk * 64, row_bytes + chunk * 4, 4);
        set->norms[row] = landmark_inner_product_avx2(row_values, row_values, dimension);
        set->l1[row] = float_sum(row_values, dimension);
        if (set->l1[row] > set->l1_max) set->l1_max = set->l1[row];
    }
    return LANDMARK_MATCHER_DONE;
}

int landmark_two_nearest_prepared(const landmark_matching_set *query_set, const float *queries,
                                  const landmark_matching_set *train_set, const float *train, float ratio,
                                  int *nearest, float *first, float *second, long *rescored) {
    if (!matcher_available) return LANDMARK_MATCHER_UNAVAILABLE;
    if (rescored) *rescored = 0;
    if (!query_set->query_words || !train_set->packed || query_set->dimension != train_set->dimension) {
        return LANDMARK_MATCHER_UNSUITED;
    }
    const long query_count = query_set->count, train_count = train_set->count, dimension = query_set->dimension;
    const double query_scale = query_set->query_scale, train_scale = train_set->train_scale;
    const double product_scale = query_scale * train_scale;
    // Integer scores are ‖t‖²·scale − 2·Σ q·t (bytes); both terms must stay far from int32's limits.
    const double largest_norm = (double)dimension * train_set->largest * train_set->largest * product_scale;
    if (largest_norm > 1.0e9 || (double)dimension * 127.0 * 255.0 * 2.0 > 1.0e9) return LANDMARK_MATCHER_UNSUITED;

    const long chunks = (dimension + 3) / 4, padded_dimension = chunks * 4;
    const long groups = (train_count + LANES - 1) / LANES;
    const long blocks = (query_count + BLOCK_ROWS - 1) / BLOCK_ROWS;
    int32_t *norms = aligned((size_t)(groups * LANES) * sizeof(int32_t));
    int32_t *scores = aligned((size_t)(BLOCK_ROWS * CANDIDATES) * sizeof(int32_t));
    int32_t *indices = aligned((size_t)(BLOCK_ROWS * CANDIDATES) * sizeof(int32_t));
    if (!norms || !scores || !indices) {
        free(norms); free(scores); free(indices);
        return LANDMARK_MATCHER_OUT_OF_MEMORY;
    }
    // The train norms at this pair's scale; padding rows get a norm no score can beat.
    for (long row = 0; row < train_count; row++) norms[row] = (int32_t)((double)train_set->norms[row] * product_scale + 0.5);
    for (long row = train_count; row < groups * LANES; row++) norms[row] = INT32_MAX / 2;

    long rescored_total = 0;
    for (long block = 0; block < blocks; block++) {
        lane_candidates(query_set->query_words + block * BLOCK_ROWS * chunks, chunks, train_set->packed, norms, groups,
                        scores, indices);
        for (long offset = 0; offset < BLOCK_ROWS; offset++) {
            long row = block * BLOCK_ROWS + offset;
            if (row >= query_count) break;
            const float *query = queries + row * dimension;
            const int32_t *candidate_scores = scores + offset * CANDIDATES;
            const int32_t *candidate_indices = indices + offset * CANDIDATES;
            // |integer score − scale·float score| ≤ 1 + scale_q·‖q‖₁ + scale_t·‖t‖₁ + d/2 (rounding of
            // every byte and of the norm), so a candidate more than twice that above the second-best
            // integer score cannot be among the two best in float.
            double bound = 1.0 + query_scale * query_set->l1[row] + train_scale * train_set->l1_max
                + 0.5 * (double)padded_dimension;
            int64_t lowest = INT64_MAX, next = INT64_MAX;
            int lowest_index = 0;
            for (int candidate = 0; candidate < CANDIDATES; candidate++) {
                int32_t index = candidate_indices[candidate];
                if (index < 0 || index >= train_count) continue;
                int64_t score = candidate_scores[candidate];
                if (score < lowest || (score == lowest && index < lowest_index)) {
                    next = lowest; lowest = score; lowest_index = index;
                } else if (score < next) next = score;
            }
            // The float best is at least (lowest − bound)/scale and the float second at most
            // (next + bound)/scale: when even these fail the ratio test, the row has no match.
            float query_norm = query_set->norms[row];
            if (next != INT64_MAX) {
                double best_low = ((double)lowest - bound) / product_scale + query_norm;
                double second_high = ((double)next + bound) / product_scale + query_norm;
                if (best_low > 0 && best_low >= (double)ratio * (double)ratio * second_high) {
                    nearest[row] = lowest_index;
                    first[row] = INFINITY;
                    second[row] = (float)((double)next / product_scale + query_norm);
                    continue;
                }
            }
            int64_t limit = next == INT64_MAX ? INT64_MAX : next + (int64_t)ceil(2 * bound);
            int best_index = -1, second_index = -1;
            float best = INFINITY, runner_up = INFINITY;
            for (int candidate = 0; candidate < CANDIDATES; candidate++) {
                int32_t index = candidate_indices[candidate];
                if (index < 0 || index >= train_count || candidate_scores[candidate] > limit) continue;
                float score = train_set->norms[index] - 2 * landmark_inner_product_avx2(query, train + (long)index * dimension, dimension);
                rescored_total++;
                if (score < best || (score == best && index < best_index)) {
                    runner_up = best; second_index = best_index;
                    best = score; best_index = index;
                } else if (score < runner_up || (score == runner_up && index < second_index)) {
                    runner_up = score; second_index = index;
                }
            }
            nearest[row] = best_index < 0 ? 0 : best_index;
            first[row] = best + query_norm;
            second[row] = runner_up + query_norm;
        }
    }
    if (rescored) *rescored = rescored_total;
    free(norms); free(scores); free(indices);
    return LANDMARK_MATCHER_DONE;
}

int landmark_two_nearest_quantized(const float *queries, long query_count, const float *train, long train_count,
                                   long dimension, float ratio, int *nearest, float *first, float *second,
                                   long *rescored) {
    if (!matcher_available) return LANDMARK_MATCHER_UNAVAILABLE;
    if (rescored) *rescored = 0;
    if (query_count <= 0) return LANDMARK_MATCHER_DONE;
    landmark_matching_set query_set, train_set;
    int status = landmark_matching_set_prepare(queries, query_count, dimension, &query_set);
    if (status != LANDMARK_MATCHER_DONE) return status;
    status = landmark_matching_set_prepare(train, train_count, dimension, &train_set);
    if (status == LANDMARK_MATCHER_DONE) {
        status = landmark_two_nearest_prepared(&query_set, queries, &train_set, train, ratio, nearest, first, second,
                                               rescored);
    }
    landmark_matching_set_release(&query_set);
    landmark_matching_set_release(&train_set);
    return status;
}

#else

int landmark_descriptor_matcher_available(void) { return 0; }

int landmark_two_nearest_quantized(const float *queries, long query_count, const float *train, long train_count,
                                   long dimension, float ratio, int *nearest, float *first, float *second,
                                   long *rescored) {
    (void)queries; (void)query_count; (void)train; (void)train_count; (void)dimension; (void)ratio;
    (void)nearest; (void)first; (void)second; (void)rescored;
    return LANDMARK_MATCHER_UNAVAILABLE;
}

int landmark_matching_set_prepare(const float *values, long count, long dimension, landmark_matching_set *set) {
    (void)values; (void)count; (void)dimension;
    memset(set, 0, sizeof(*set));
    return LANDMARK_MATCHER_UNAVAILABLE;
}

void landmark_matching_set_release(landmark_matching_set *set) { (void)set; }

int landmark_two_nearest_prepared(const landmark_matching_set *query_set, const float *queries,
                                  const landmark_matching_set *train_set, const float *train, float ratio,
                                  int *nearest, float *first, float *second, long *rescored) {
    (void)query_set; (void)queries; (void)train_set; (void)train; (void)ratio;
    (void)nearest; (void)first; (void)second; (void)rescored;
    return LANDMARK_MATCHER_UNAVAILABLE;
}

#endif
