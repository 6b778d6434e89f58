#ifndef LANDMARK_CPU_FEATURES_H
#define LANDMARK_CPU_FEATURES_H

/// True when the processor has AVX-512F, which the blur, Winograd, 1 × 1 and depthwise kernels need
/// (checked once, when the library loads).
int landmark_cpu_has_avx512f(void);

#endif
