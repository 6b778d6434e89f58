#ifndef LANDMARK_SEPARABLE_BLUR_H
#define LANDMARK_SEPARABLE_BLUR_H

/// True when the processor runs the AVX-512 blur below (checked once, at load time).
int landmark_separable_blur_available(void);

/// Rows `first_row` ..< `last_row` of a symmetric separable filter of a `width` × `height` float plane,
/// borders mirrored without repeating the edge (OpenCV's BORDER_REFLECT_101).
///
/// `weights[0]` is the centre tap and `weights[k]` the tap k pixels away, for k up to `radius`. Every output
/// sample is computed in the same order as the scalar definition — centre × value, then for k = 1 … radius
/// "+= weights[k] × (before + after)", vertical pass first, each product and sum rounded separately (no
/// fused multiply-add) — so the result is bit-identical to it. `scratch` holds width + 2·radius floats.
void landmark_separable_blur_rows(const float *input, float *output, long width, long height, const float *weights,
                                  long radius, long first_row, long last_row, float *scratch);

#endif
