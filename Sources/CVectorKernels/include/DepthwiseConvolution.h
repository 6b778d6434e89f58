#ifndef LANDMARK_DEPTHWISE_CONVOLUTION_H
#define LANDMARK_DEPTHWISE_CONVOLUTION_H

/// Output rows `first_output_row` ..< `first_output_row + output_rows` of one channel of a depthwise
/// convolution with a `kernel` × `kernel` filter (3 or 5), stride 1 or 2, no dilation: output[y][x] =
/// activation(Σ weights[ky][kx] · input[y·stride + ky − pad_top][x·stride + kx − pad_left] + bias
/// (+ residual[y][x])), input positions outside the `input_height` × `input_width` plane being zero.
///
/// `output` and `residual` (may be null) address row `first_output_row`. With `ring_rows` 0 the input is
/// the whole plane; otherwise it holds `ring_rows` rows, input row r at stored row r mod `ring_rows`, so
/// a fused block can keep only the expanded rows its current band needs (every row the band reads must
/// be there).
///
/// The input is read in place, the zero border coming from load masks. Each output starts from
/// zero and adds the taps row by row with fused multiply-adds (taps on border rows, which add w · 0, are
/// left out), then the bias, the residual and the activation (0 identity, 1 max(x, 0),
/// 2 min(max(x, 0), 6)), in one pass: sixteen outputs per vector, stride 2 taking even and odd columns
/// apart with permutes. An output does not depend on the rows or band it was computed in. Needs
/// AVX-512F; call only when `landmark_cpu_has_avx512f()`.
void landmark_depthwise_convolution_channel(const float *input, long input_height, long input_width, long ring_rows,
                                            long pad_top, long pad_left, const float *weights, long kernel, long stride,
                                            long first_output_row, long output_rows, long output_width, float bias,
                                            const float *residual, int activation, float *output);

#endif
