#ifndef LANDMARK_POINTWISE_CONVOLUTION_H
#define LANDMARK_POINTWISE_CONVOLUTION_H

/// A 1 × 1 stride-1 convolution over pixels `first_pixel` ..< `first_pixel + pixel_count` of planes of
/// `plane` pixels: output[o][p] = activation(Σᵢ weights[o][i] · input[i][p] + bias[o] (+ residual[o][p])).
///
/// `activation` is 0 (identity), 1 (max(x, 0)) or 2 (min(max(x, 0), 6)); `residual` may be null. Each
/// sum runs over i in order with fused multiply-adds, whatever the block sizes, so an output does not
/// depend on how the pixels were split between calls or threads. Blocks of 8 output channels × 32
/// pixels in registers, over chunks of pixels whose input is first copied into `scratch`
/// (`landmark_pointwise_convolution_scratch_count(input_channels)` floats) and read from there
/// by every output-channel block: no zeroing pass, no separate epilogue pass over the output. Needs
/// AVX-512F; call only when `landmark_cpu_has_avx512f()`.
void landmark_pointwise_convolution(const float *weights, const float *input, long input_channels,
                                    long output_channels, long plane, long first_pixel, long pixel_count,
                                    const float *bias, const float *residual, int activation, float *output,
                                    float *scratch);

/// Floats of scratch one call of `landmark_pointwise_convolution` needs.
long landmark_pointwise_convolution_scratch_count(long input_channels);

#endif
