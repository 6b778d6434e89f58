/// Metrics of a score that separates two classes, such as the inlier count of image-pair verification.
public enum BinaryClassificationMetrics {
    /// Area under the ROC curve, computed as the Mann–Whitney statistic: the probability that a random positive
    /// scores higher than a random negative, ties counting ½.
    ///
    /// The rank-sum form is used so that it needs one sort instead of comparing every positive with every
    /// negative; tied scores get their average rank, which is exactly the ½ per tied pair.
    /// - Returns: NaN when either list is empty (the curve is undefined).
    /// - Complexity: O((p + n) log(p + n)).
    public static func rocAUC(positives: [Double], negatives: [Double]) -> Double {
        guard !positives.isEmpty, !negatives.isEmpty else { return .nan }
        var scored = positives.map { (score: $0, positive: true) } + negatives.map { (score: $0, positive: false) }
        scored.sort { $0.score < $1.score }
        var positiveRankSum = 0.0
        var start = 0
        while start < scored.count {
            var end = start + 1
            while end < scored.count && scored[end].score == scored[start].score { end += 1 }
            // Ranks start..<end (1-based start+1 … end) share their mean.
            let averageRank = Double(start + 1 + end) / 2
            for index in start..<end where scored[index].positive { positiveRankSum += averageRank }
            start = end
        }
        let p = Double(positives.count), n = Double(negatives.count)
        return (positiveRankSum - p * (p + 1) / 2) / (p * n)
    }
}
