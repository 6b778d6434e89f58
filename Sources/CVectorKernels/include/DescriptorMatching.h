#ifndef LANDMARK_DESCRIPTOR_MATCHING_H
#define LANDMARK_DESCRIPTOR_MATCHING_H

/// True when the processor runs the 8-bit matcher below (AVX-512 with VNNI; checked once, at load time).
int landmark_descriptor_matcher_available(void);

/// Outcome of landmark_two_nearest_quantized.
enum {
    LANDMARK_MATCHER_DONE = 0,
    /// The data does not suit 8-bit candidates (a negative component, a zero-range set, dimensions or
    /// magnitudes whose integer sums could overflow): use the float path.
    LANDMARK_MATCHER_UNSUITED = 1,
    LANDMARK_MATCHER_OUT_OF_MEMORY = 2,
    LANDMARK_MATCHER_UNAVAILABLE = 3,
};

/// For each of `query_count` rows of `queries`, the nearest and the second nearest of `train_count` rows of
/// `train` (both row-major, `dimension` non-negative floats) by squared Euclidean distance, computed as
/// ‖t‖² − 2 q·t + ‖q‖².
///
/// Candidates come from 8-bit integer dot products (VNNI: four times the multiply-adds of float FMA per
/// instruction): each of 16 lanes keeps its two best train rows. Every candidate that the quantisation
/// error bound cannot exclude is then scored again in float, so the distances written are float distances and
/// the neighbours are the float ones unless a lane held three rows closer than the error bound.
/// Ties go to the lower train index. `second` is +infinity when `train_count` is 1.
///
/// A row whose nearest certainly fails Lowe's test d₁ < `ratio`·d₂ (even at the error bound's most
/// favourable ends) is not scored again: its `first` is +infinity, its `nearest` the integer nearest and its
/// `second` an integer estimate. Pass INFINITY as `ratio` to score every row.
/// Writes nearest[q], first[q], second[q]; `rescored`, when not null, receives how many candidates were
/// scored in float (for benchmarks).
int landmark_two_nearest_quantized(const float *queries, long query_count, const float *train, long train_count,
                                   long dimension, float ratio, int *nearest, float *first, float *second,
                                   long *rescored);

/// One descriptor set in the forms the 8-bit matcher reads (as queries and as train rows), so that a set
/// matched against many others is quantised once. Filled by landmark_matching_set_prepare; owns its buffers.
typedef struct {
    long count;
    long dimension;
    /// 127 and 255 over the set's largest component.
    float query_scale;
    float train_scale;
    float largest;
    /// Rows as signed bytes, four to a word, padded to whole blocks of rows.
    int *query_words;
    /// Rows as unsigned bytes in the 16-lane layout.
    unsigned char *packed;
    /// Each row's squared norm and L1 norm (float), and the largest L1 norm.
    float *norms;
    float *l1;
    float l1_max;
} landmark_matching_set;

/// Quantises `count` rows of `dimension` non-negative floats. Returns LANDMARK_MATCHER_DONE, or the reason
/// the set cannot take the 8-bit path (the set is then empty). Release with landmark_matching_set_release.
int landmark_matching_set_prepare(const float *values, long count, long dimension, landmark_matching_set *set);

/// Frees a prepared set's buffers (safe on an empty set).
void landmark_matching_set_release(landmark_matching_set *set);

/// landmark_two_nearest_quantized on prepared sets; `queries` and `train` are the float rows the sets were
/// prepared from (candidates are scored again on them).
int landmark_two_nearest_prepared(const landmark_matching_set *query_set, const float *queries,
                                  const landmark_matching_set *train_set, const float *train, float ratio,
                                  int *nearest, float *first, float *second, long *rescored);

#endif
