#ifndef LANDMARK_RESAMPLING_PASSES_H
#define LANDMARK_RESAMPLING_PASSES_H

#include <stdint.h>

/// Taps one 64-byte weight group covers: five RGB pixels fill fifteen of a vector's sixteen lanes.
#define LANDMARK_RESAMPLING_TAPS_PER_GROUP 5

/// PIL's horizontal resampling pass over rows `first_row` ..< `first_row + row_count` of a packed RGB
/// image `source` (`source_count` bytes, rows of `input_width` pixels), into `output` (rows of
/// `output_width` pixels, row `first_row` first).
///
/// Output pixel o reads `bounds[2o + 1]` pixels from `bounds[2o]`. `weights` holds, per output pixel,
/// `groups` vectors of sixteen 32-bit lanes: lane 3j + c of group g is the weight of tap 5g + j for
/// channel c (the same weight three times), zero past the window and in lane 15; each channel's sum
/// starts at `rounding` and is clamped to 0 … 255 after a right shift by `precision_bits`, in PIL's
/// 32-bit integer arithmetic, so the result is PIL's to the bit whatever order the taps are added in.
/// Sixteen bytes (five pixels) are multiplied per instruction; a window whose last load would pass
/// the end of `source` is summed one tap at a time. Needs AVX-512F; call only when
/// `landmark_cpu_has_avx512f()`.
void landmark_resample_rows_rgb(const uint8_t *source, long source_count, long input_width, long first_row,
                                long row_count, const int32_t *bounds, const int32_t *weights, long groups,
                                long output_width, int32_t rounding, int precision_bits, uint8_t *output);

/// PIL's vertical resampling pass: output row o is Σₜ weights[o · kernel_size + t] · source row
/// (bounds[2o] + t), t < bounds[2o + 1], over rows of `row_length` bytes, each sum starting at `rounding`
/// and clamped to 0 … 255 after a right shift by `precision_bits`. Sixteen bytes at a time with the sums
/// in a register across all taps. Needs AVX-512F; call only when `landmark_cpu_has_avx512f()`.
void landmark_resample_columns(const uint8_t *source, long row_length, const int32_t *bounds, const int32_t *weights,
                               long kernel_size, long output_rows, int32_t rounding, int precision_bits,
                               uint8_t *output);

#endif
