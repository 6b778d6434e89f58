#ifndef LANDMARK_POINTWISE_CONVOLUTION_H
#define LANDMARK_POINTWISE_CONVOLUTION_H

/// A 1 × 1 stride-1 convolution over `pixel_count` pixels: output[o · output_plane + p] =
/// activation(Σᵢ weights[o][i] · input[i · input_plane + p] + bias[o] (+ residual[o · residual_plane + p])),
/// 0 ≤ p < pixel_count. The pointers address the first pixel and the planes are channel strides, so a call
/// can cover a band of rows of a map and write it into a buffer of another height (a fused block's bands).
///
/// `activation` is 0 (identity), 1 (max(x, 0)) or 2 (min(max(x, 0), 6)); `residual` may be null. Each
/// sum runs over i in order with fused multiply-adds, whatever the block sizes, so an output does not
/// depend on how the pixels were split between calls or threads. Blocks of 8 output channels × 32
/// pixels in registers, over chunks of pixels whose input is first copied into `scratch`
/// (`landmark_pointwise_convolution_scratch_count(input_channels)` floats) and read from there
/// by every output-channel block: no zeroing pass, no separate epilogue pass over the output. Needs
/// AVX-512F; call only when `landmark_cpu_has_avx512f()`.
void landmark_pointwise_convolution(const float *weights, const float *input, long input_plane, long input_channels,
                                    long output_channels, long pixel_count, const float *bias, const float *residual,
                                    long residual_plane, int activation, float *output, long output_plane,
                                    float *scratch);

/// Floats of scratch one call of `landmark_pointwise_convolution` needs.
long landmark_pointwise_convolution_scratch_count(long input_channels);

#endif
