#ifndef LANDMARK_WINOGRAD_TRANSFORMS_H
#define LANDMARK_WINOGRAD_TRANSFORMS_H

/// Winograd F(4 × 4, 3 × 3)'s output transform Y = Aᵀ M A, with
/// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1], for one channel and one row of tiles.
///
/// `products` holds M[ξ] of tile j at `products[ξ · position_stride + j]` for ξ = 0 … 35 (row-major 6 × 6)
/// and j < `tile_columns`; tile j's outputs go to columns 4j … 4j + 3 (those below `output_width`) of the
/// `row_count` (≤ 4) rows starting at `output`, rows `output_width` floats apart. Sixteen tiles at a time
/// with AVX-512 when `vectorized` is non-zero and `landmark_cpu_has_avx512f()`, else one at a time; both round
/// every sum in the same order, so the results are identical.
void landmark_winograd_f4_output_row(const float *products, long position_stride, long tile_columns,
                                     float *output, long output_width, long row_count, int vectorized);

/// Winograd F(4 × 4, 3 × 3)'s input transform V = Bᵀ d B, with
/// Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0; 0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1], for one channel
/// and one row of tiles.
///
/// `padded` holds the six input rows the tiles read, `width` = 4 · `tile_columns` + 2 floats each, zero
/// outside the image; `vertical` is scratch for six rows of `width`. Tile j's V[ξ] goes to
/// `transformed[ξ · position_stride + j]`. Sixteen tiles at a time with AVX-512 when `vectorized` is
/// non-zero and `landmark_cpu_has_avx512f()`, else one at a time, with the same sums in the same order.
void landmark_winograd_f4_input_row(const float *padded, long width, float *vertical, long tile_columns,
                                    float *transformed, long position_stride, int vectorized);

#endif
