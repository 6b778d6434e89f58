#!/usr/bin/python3
"""Which verification score separates same-landmark pairs best (issue 11, item 3)?

Reads the pair lists `landmark evaluate --task verification --pairs-out FILE` writes for one or more folder
benchmarks (columns: a, b, positive, distinct inliers of a plausible model, tentative matches, inlier
spread) and prints, per candidate score and per file: ROC AUC (Mann-Whitney, ties 1/2), the true-positive
rate at false-positive rates 0.1 % and 1 %, and the smallest threshold reaching a precision of 0.99.

    landmark evaluate --dataset ../shared/devset --task verification --pairs-out /tmp/pairs-devset.tsv
    landmark evaluate --dataset ../shared/trainset --task verification --pairs-out /tmp/pairs-trainset.tsv
    python3 scripts/experiments/verification_scores.py /tmp/pairs-devset.tsv /tmp/pairs-trainset.tsv
"""
import math
import sys


def load(path):
    rows = []
    with open(path) as handle:
        for line in handle:
            a, b, positive, inliers, matches, spread = line.rstrip("\n").split("\t")
            rows.append((positive == "1", int(inliers), int(matches), float(spread)))
    return rows


CANDIDATES = {
    "inliers": lambda i, m, s: i,
    "inliers x ratio": lambda i, m, s: i * (i / m if m else 0),
    "inliers x sqrt(ratio)": lambda i, m, s: i * math.sqrt(i / m if m else 0),
    "inliers x sqrt(spread)": lambda i, m, s: i * math.sqrt(s),
    "inliers x min(1,spread/0.01)": lambda i, m, s: i * min(1, s / 0.01),
    "inliers x min(1,spread/0.03)": lambda i, m, s: i * min(1, s / 0.03),
    "inliers x min(1,spread/0.1)": lambda i, m, s: i * min(1, s / 0.1),
    "ratio": lambda i, m, s: i / m if m else 0,
    "spread": lambda i, m, s: s,
}


def auc(positives, negatives):
    scored = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, position = 0.0, 0
    while position < len(scored):
        end = position
        while end < len(scored) and scored[end][0] == scored[position][0]:
            end += 1
        average_rank = (position + 1 + end) / 2
        rank_sum += average_rank * sum(label for _, label in scored[position:end])
        position = end
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def tpr_at_fpr(positives, negatives, fpr):
    negatives = sorted(negatives, reverse=True)
    allowed = int(math.floor(fpr * len(negatives)))
    # Threshold strictly above the (allowed+1)-th largest negative.
    threshold = negatives[allowed] if allowed < len(negatives) else -math.inf
    return sum(1 for v in positives if v > threshold) / len(positives)


def threshold_for_precision(positives, negatives, target=0.99):
    values = sorted(set(positives) | set(negatives))
    for value in values:
        tp = sum(1 for v in positives if v >= value)
        fp = sum(1 for v in negatives if v >= value)
        if tp and tp / (tp + fp) >= target:
            return value, tp / len(positives)
    return math.inf, 0.0


def main():
    files = sys.argv[1:]
    if not files:
        sys.exit(__doc__)
    data = {path: load(path) for path in files}
    print("%-30s" % "score" + "".join("  %-44s" % path.split("/")[-1] for path in files))
    print("%-30s" % "" + "".join("  %-44s" % "AUC    TPR@0.1%  TPR@1%  thr@P.99 (recall)" for _ in files))
    for name, score in CANDIDATES.items():
        cells = []
        for path in files:
            rows = data[path]
            positives = [score(i, m, s) for p, i, m, s in rows if p]
            negatives = [score(i, m, s) for p, i, m, s in rows if not p]
            threshold, recall = threshold_for_precision(positives, negatives)
            cells.append("%.4f  %.3f     %.3f   %7.2f (%.3f)" % (
                auc(positives, negatives), tpr_at_fpr(positives, negatives, 0.001), tpr_at_fpr(positives, negatives, 0.01),
                threshold, recall))
        print("%-30s" % name + "".join("  %-44s" % cell for cell in cells))


if __name__ == "__main__":
    main()
