#ifndef LANDMARK_WINOGRAD_TRANSFORMS_H
#define LANDMARK_WINOGRAD_TRANSFORMS_H

/// Winograd F(4 × 4, 3 × 3)'s output transform Y = Aᵀ M A, with
/// Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1], for one channel and one row of tiles.
///
/// `products` holds M[ξ] of tile j at `products[ξ · position_stride + j]` for ξ = 0 … 35 (row-major 6 × 6)
/// and j < `tile_columns`; tile j's outputs go to columns 4j … 4j + 3 (those below `output_width`) of the
/// `row_count` (≤ 4) rows starting at `output`, rows `output_width` floats apart. Sixteen tiles at a time
/// with AVX-512 where the processor has it, else one at a time; both round every sum in the same order,
/// so the results are identical.
void landmark_winograd_f4_output_row(const float *products, long position_stride, long tile_columns,
                                     float *output, long output_width, long row_count);

#endif
