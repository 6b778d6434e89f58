// EfficientNet-Lite spends most of its time in 1 × 1 convolutions with few input channels (expansions from
// 16–352 channels, projections to them): OpenBLAS zeroes the output, packs both operands and reads the
// output back for every product, which at such depths costs as much as the arithmetic. Here the output
// block lives in registers from the first input channel to the bias and activation.
#include "PointwiseConvolution.h"
#include "ConvolutionEpilogue.h"

#if defined(__x86_64__)
#include <immintrin.h>

enum { CHANNEL_BLOCK = 8, PIXEL_BLOCK = 32 };

/// Floats of input one chunk holds: kept in the 1 MB L2 across all the output-channel blocks.
enum { CHUNK_FLOATS = 64 * 1024 };

static long chunk_pixels(long input_channels) {
    long chunk = CHUNK_FLOATS / (input_channels > 0 ? input_channels : 1) / PIXEL_BLOCK * PIXEL_BLOCK;
    return chunk < PIXEL_BLOCK ? PIXEL_BLOCK : chunk;
}

long landmark_pointwise_convolution_scratch_count(long input_channels) {
    return chunk_pixels(input_channels) * (input_channels > 0 ? input_channels : 1);
}

__attribute__((target("avx512f")))
static void channel_block(const float *weights, const float *panel, long input_channels, long output_channels,
                          long first_channel, long pixel, __mmask16 low_mask, __mmask16 high_mask,
                          const float *bias, const float *residual, long residual_plane, int activation, float *output,
                          long output_plane) {
    const float *rows[CHANNEL_BLOCK];
    for (int r = 0; r < CHANNEL_BLOCK; r++) {
        long channel = first_channel + r < output_channels ? first_channel + r : output_channels - 1;
        rows[r] = weights + channel * input_channels;
    }
    __m512 low[CHANNEL_BLOCK], high[CHANNEL_BLOCK];
    for (int r = 0; r < CHANNEL_BLOCK; r++) { low[r] = _mm512_setzero_ps(); high[r] = _mm512_setzero_ps(); }
    const float *x = panel;
    for (long i = 0; i < input_channels; i++, x += PIXEL_BLOCK) {
        __m512 x0 = _mm512_loadu_ps(x), x1 = _mm512_loadu_ps(x + 16);
        for (int r = 0; r < CHANNEL_BLOCK; r++) {
            __m512 w = _mm512_set1_ps(rows[r][i]);
            low[r] = _mm512_fmadd_ps(w, x0, low[r]);
            high[r] = _mm512_fmadd_ps(w, x1, high[r]);
        }
    }
    for (int r = 0; r < CHANNEL_BLOCK && first_channel + r < output_channels; r++) {
        long channel = first_channel + r;
        const float *residual_row = residual ? residual + channel * residual_plane + pixel : 0;
        float *destination = output + channel * output_plane + pixel;
        __m512 channel_bias = _mm512_set1_ps(bias[channel]);
        _mm512_mask_storeu_ps(destination, low_mask,
                              landmark_convolution_epilogue(low[r], channel_bias, residual_row, low_mask, activation));
        _mm512_mask_storeu_ps(destination + 16, high_mask,
                              landmark_convolution_epilogue(high[r], channel_bias, residual_row ? residual_row + 16 : 0,
                                                            high_mask, activation));
    }
}

__attribute__((target("avx512f")))
static inline __mmask16 low_mask_for(long left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

__attribute__((target("avx512f")))
static inline __mmask16 high_mask_for(long left) {
    return left >= 32 ? (__mmask16)0xFFFF : left <= 16 ? (__mmask16)0 : (__mmask16)((1u << (left - 16)) - 1);
}

__attribute__((target("avx512f")))
void landmark_pointwise_convolution(const float *weights, const float *input, long input_plane, long input_channels,
                                    long output_channels, long pixel_count, const float *bias, const float *residual,
                                    long residual_plane, int activation, float *output, long output_plane,
                                    float *scratch) {
    // The input planes lie a multiple of 4 KB apart in ResNet's maps, so reading 32 pixels of every
    // channel in place lands them all in one L1 set: each chunk is first copied into panels of
    // [32-pixel block][channel][32], which the channel blocks then read in order.
    long chunk = chunk_pixels(input_channels);
    long end = pixel_count;
    for (long start = 0; start < end; start += chunk) {
        long stop = start + chunk < end ? start + chunk : end;
        long blocks = (stop - start + PIXEL_BLOCK - 1) / PIXEL_BLOCK;
        for (long block = 0; block < blocks; block++) {
            long pixel = start + block * PIXEL_BLOCK;
            __mmask16 low_mask = low_mask_for(stop - pixel), high_mask = high_mask_for(stop - pixel);
            float *panel = scratch + block * input_channels * PIXEL_BLOCK;
            for (long i = 0; i < input_channels; i++) {
                const float *row = input + i * input_plane + pixel;
                _mm512_storeu_ps(panel + i * PIXEL_BLOCK, _mm512_maskz_loadu_ps(low_mask, row));
                _mm512_storeu_ps(panel + i * PIXEL_BLOCK + 16, _mm512_maskz_loadu_ps(high_mask, row + 16));
            }
        }
        for (long channel = 0; channel < output_channels; channel += CHANNEL_BLOCK) {
            for (long block = 0; block < blocks; block++) {
                long pixel = start + block * PIXEL_BLOCK;
                channel_block(weights, scratch + block * input_channels * PIXEL_BLOCK, input_channels, output_channels,
                              channel, pixel, low_mask_for(stop - pixel), high_mask_for(stop - pixel), bias,
                              residual, residual_plane, activation, output, output_plane);
            }
        }
    }
}

#else

long landmark_pointwise_convolution_scratch_count(long input_channels) { (void)input_channels; return 0; }

void landmark_pointwise_convolution(const float *weights, const float *input, long input_plane, long input_channels,
                                    long output_channels, long pixel_count, const float *bias, const float *residual,
                                    long residual_plane, int activation, float *output, long output_plane,
                                    float *scratch) {
    (void)scratch; (void)weights; (void)input; (void)input_plane; (void)input_channels; (void)output_channels;
    (void)pixel_count; (void)bias; (void)residual; (void)residual_plane; (void)activation; (void)output; (void)output_plane;
}

#endif
