// One check of the processor for every AVX-512F kernel of this module.
#include "CPUFeatures.h"

#if defined(__x86_64__)
static int has_avx512f = 0;

__attribute__((constructor)) static void detect_avx512f(void) {
    __builtin_cpu_init();
    has_avx512f = __builtin_cpu_supports("avx512f");
}

int landmark_cpu_has_avx512f(void) { return has_avx512f; }
#else
int landmark_cpu_has_avx512f(void) { return 0; }
#endif
