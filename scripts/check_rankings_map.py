#!/usr/bin/env python3
"""Recomputes mAP and mP@k of a folder benchmark from `landmark evaluate --rankings-out FILE`,
independently of the Swift code, with the revisited Oxford/Paris benchmark's AP.

    python3 scripts/check_rankings_map.py DATASET_DIR RANKINGS.jsonl [--revisitop PATH]

With --revisitop PATH (a checkout of filipradenovic/revisitop), its own `compute_map` from
python/evaluate.py is used; otherwise this file's transcription of the same formula. Prints one JSON
object: {"queries": n, "mAP": x, "mP@1": ..., "mP@5": ..., "mP@10": ...}.
"""
import argparse
import csv
import json
import math
import os
import sys


def average_precision(ranks, positive_count):
    """Trapezoidal AP over 0-based ranks of the positives in the junk-free ranking (revisitop)."""
    ap = 0.0
    step = 1.0 / positive_count
    for j, rank in enumerate(ranks):
        precision_before = 1.0 if rank == 0 else j / rank
        precision_after = (j + 1) / (rank + 1)
        ap += (precision_before + precision_after) * step / 2.0
    return ap


def evaluate(rankings, ground_truth, kappas):
    total_ap, total_pr, evaluated = 0.0, [0.0] * len(kappas), 0
    for ranking, (positives, junk) in zip(rankings, ground_truth):
        if not positives:
            continue
        evaluated += 1
        positive_set, junk_set = set(positives), set(junk)
        ranks, removed = [], 0
        for position, item in enumerate(ranking):
            if item in junk_set:
                removed += 1
            elif item in positive_set:
                ranks.append(position - removed)
        ap = average_precision(ranks, len(positives))
        total_ap += ap
        one_based = [r + 1 for r in ranks]
        for index, kappa in enumerate(kappas):
            if not one_based:
                continue
            cutoff = min(max(one_based), kappa)
            total_pr[index] += sum(1 for r in one_based if r <= cutoff) / cutoff
    return evaluated, total_ap / evaluated, [p / evaluated for p in total_pr]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("rankings")
    parser.add_argument("--revisitop", help="checkout of filipradenovic/revisitop to use its compute_map")
    args = parser.parse_args()

    with open(os.path.join(args.dataset, "ground_truth.tsv"), newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    images = [row[0] for row in rows[1:]]
    labels = [row[1] if len(row) > 1 else "" for row in rows[1:]]
    index = {image: i for i, image in enumerate(images)}

    rankings, ground_truth = [], []
    with open(args.rankings) as handle:
        for line in handle:
            if not line.strip():
                continue
            entry = json.loads(line)
            query = index[entry["query"]]
            rankings.append([index[name] for name in entry["ranking"]])
            positives = [i for i, label in enumerate(labels) if label and label == labels[query] and i != query]
            ground_truth.append((positives, [query]))
    kappas = [1, 5, 10]

    if args.revisitop:
        import numpy as np
        sys.path.insert(0, os.path.join(args.revisitop, "python"))
        from evaluate import compute_map  # noqa: E402 (the reference implementation)
        # compute_map wants a full (database × queries) matrix of ranks: append the query itself last.
        columns = [ranking + [gt[1][0]] for ranking, gt in zip(rankings, ground_truth)]
        ranks = np.array(columns).T
        gnd = [{"ok": np.array(p), "junk": np.array(j)} for p, j in ground_truth]
        mean_ap, _, mean_pr, _ = compute_map(ranks, gnd, kappas)
        evaluated = sum(1 for p, _ in ground_truth if p)
        precisions = list(mean_pr)
    else:
        evaluated, mean_ap, precisions = evaluate(rankings, ground_truth, kappas)

    result = {"queries": evaluated, "mAP": mean_ap}
    for kappa, value in zip(kappas, precisions):
        result["mP@%d" % kappa] = value
    print(json.dumps(result, sort_keys=True))


if __name__ == "__main__":
    main()
