// Graph search scores thousands of rows per query; Swift compiles for the x86-64 baseline (SSE2), so
// these kernels are compiled for AVX2 + FMA and chosen at run time when the processor has them.
#include "VectorKernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

static int kernels_available = 0;

__attribute__((constructor)) static void detect_kernels(void) {
    __builtin_cpu_init();
    kernels_available = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

int landmark_vector_kernels_available(void) { return kernels_available; }

__attribute__((target("avx2,fma")))
static float horizontal_sum(__m256 v) {
    __m128 low = _mm256_castps256_ps128(v), high = _mm256_extractf128_ps(v, 1);
    __m128 sum = _mm_add_ps(low, high);
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_movehdup_ps(sum));
    return _mm_cvtss_f32(sum);
}

__attribute__((target("avx2,fma")))
void landmark_inner_products4_avx2(const float *query, const float *first, const float *second,
                                   const float *third, const float *fourth, long count, float *out) {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    __m256 sum2 = _mm256_setzero_ps(), sum3 = _mm256_setzero_ps();
    long position = 0;
    for (; position + 8 <= count; position += 8) {
        __m256 component = _mm256_loadu_ps(query + position);
        sum0 = _mm256_fmadd_ps(component, _mm256_loadu_ps(first + position), sum0);
        sum1 = _mm256_fmadd_ps(component, _mm256_loadu_ps(second + position), sum1);
        sum2 = _mm256_fmadd_ps(component, _mm256_loadu_ps(third + position), sum2);
        sum3 = _mm256_fmadd_ps(component, _mm256_loadu_ps(fourth + position), sum3);
    }
    float totals[4] = {horizontal_sum(sum0), horizontal_sum(sum1), horizontal_sum(sum2), horizontal_sum(sum3)};
    for (; position < count; position++) {
        totals[0] += query[position] * first[position];
        totals[1] += query[position] * second[position];
        totals[2] += query[position] * third[position];
        totals[3] += query[position] * fourth[position];
    }
    for (int lane = 0; lane < 4; lane++) out[lane] = totals[lane];
}

__attribute__((target("avx2,fma")))
float landmark_inner_product_avx2(const float *a, const float *b, long count) {
    __m256 sum0 = _mm256_setzero_ps(), sum1 = _mm256_setzero_ps();
    __m256 sum2 = _mm256_setzero_ps(), sum3 = _mm256_setzero_ps();
    long position = 0;
    for (; position + 32 <= count; position += 32) {
        sum0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + position), _mm256_loadu_ps(b + position), sum0);
        sum1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + position + 8), _mm256_loadu_ps(b + position + 8), sum1);
        sum2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + position + 16), _mm256_loadu_ps(b + position + 16), sum2);
        sum3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + position + 24), _mm256_loadu_ps(b + position + 24), sum3);
    }
    for (; position + 8 <= count; position += 8) {
        sum0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + position), _mm256_loadu_ps(b + position), sum0);
    }
    float total = horizontal_sum(_mm256_add_ps(_mm256_add_ps(sum0, sum1), _mm256_add_ps(sum2, sum3)));
    for (; position < count; position++) total += a[position] * b[position];
    return total;
}

#else

int landmark_vector_kernels_available(void) { return 0; }

void landmark_inner_products4_avx2(const float *query, const float *first, const float *second,
                                   const float *third, const float *fourth, long count, float *out) {
    (void)query; (void)first; (void)second; (void)third; (void)fourth; (void)count; (void)out;
}

float landmark_inner_product_avx2(const float *a, const float *b, long count) {
    (void)a; (void)b; (void)count;
    return 0;
}

#endif
