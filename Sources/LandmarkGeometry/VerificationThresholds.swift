/// How many distinct inliers of a plausible model make an image pair "verified", one documented value per
/// use. Every stage that asks whether two photographs match takes its default from here, so that a change
/// of the verifier (matching, RANSAC, the plausibility checks) is followed by one re-tuning in one place.
///
/// The score is the count of distinct inliers of a plausible model. Measured over every image pair of
/// `../shared/devset` (2,346 pairs) and `../shared/trainset` (23,653) with `landmark evaluate --task
/// verification --pairs-out` and `scripts/experiments/verification_scores.py`, it separated same-landmark
/// pairs better than inliers × inlier ratio, inliers × √ratio and inliers weighted by the inliers' spread
/// (ROC AUC 0.825 / 0.871 against at most 0.821 / 0.863; true-positive rate at 1 % false positives 0.662 /
/// 0.735 against at most 0.635 / 0.696), so no combined score replaced it.
public enum VerificationThresholds {
    /// A pair shows the same scene. At 20, devset has 35 verified pairs, all true, and trainset 1,289, of
    /// which 32 "false" ones join its castle and fountain scenes — photographed in one courtyard, so they
    /// truly overlap — and 1 is wrong (precision 0.999 without the courtyard pairs). Recall over all
    /// same-landmark pairs is 0.47 / 0.53: the rest do not share enough visible structure. Used by
    /// `landmark verify`, re-ranking (`spatial<R>` without `t<T>`) and so by the positives of DQE.
    public static let verified = 20
    /// Re-ranking moves a result ahead of unverified ones at this count (`spatial<R>`'s default T).
    /// It was 80 while degenerate homographies on repeated texture still passed as verified; with them
    /// rejected, the lower count verifies far more true matches at the same precision.
    public static let reranking = verified
    /// An edge of the mined match graph (`landmark mine`, `--task mining`): a wrong edge merges two
    /// landmarks into one cluster, so the bar is the verified count, not lower.
    public static let miningEdge = verified
    /// A same-label neighbour confirms an image's label in `landmark clean`: one confirming match among
    /// up to 100 same-label neighbours is enough, and a lower bar keeps more true images of hard scenes.
    public static let cleaning = 15
    /// Recognition's inlier term min(inliers, τ)/τ is graded, so any plausible model counts (RANSAC's own
    /// floor of 10 inliers for a homography still applies); τ below is where it saturates.
    public static let recognitionCounting = 1
    /// τ of recognition's inlier term: a neighbour with this many inliers adds the full weight λ.
    public static let recognitionSaturation = 70
}
