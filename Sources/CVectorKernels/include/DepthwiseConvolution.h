#ifndef LANDMARK_DEPTHWISE_CONVOLUTION_H
#define LANDMARK_DEPTHWISE_CONVOLUTION_H

/// One channel of a depthwise convolution with a `kernel` × `kernel` filter (3 or 5), stride 1 or 2,
/// no dilation: output[y][x] = activation(Σ weights[ky][kx] · input[y·stride + ky − pad_top]
/// [x·stride + kx − pad_left] + bias (+ residual[y][x])), input positions outside the plane being zero.
///
/// The input plane is read in place, the zero border coming from load masks. Each output starts from
/// zero and adds the taps row by row with fused multiply-adds (taps on border rows, which add w · 0, are
/// left out), then the bias, the residual (may be null) and the activation (0 identity, 1 max(x, 0),
/// 2 min(max(x, 0), 6)), in one pass: sixteen outputs per vector, stride 2 taking even and odd columns
/// apart with permutes. Needs AVX-512F; call only when `landmark_cpu_has_avx512f()`.
void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long pad_top,
                                            long pad_left, const float *weights, long kernel, long stride,
                                            long output_height, long output_width, float bias, const float *residual,
                                            int activation, float *output);

#endif
