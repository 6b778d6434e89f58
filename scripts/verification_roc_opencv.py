#!/usr/bin/python3
"""OpenCV reference for `landmark evaluate --task verification` on a folder benchmark.

Every unordered pair of images in ground_truth.tsv is positive when both show the same landmark (a
distractor is never positive); the score is the RANSAC inlier count. Settings mirror the Swift pipeline:
PIL decoding with EXIF orientation, longer side 1024 (PIL thumbnail, Lanczos), PIL "L" grey, OpenCV SIFT with
2000 features, RootSIFT, Lowe ratio 0.8, cv2.findHomography RANSAC with a 4 px threshold, 2000 iterations and
confidence 0.999. Prints one JSON object (AUC as the Mann-Whitney statistic, ties 1/2).

Run with Debian's /usr/bin/python3 (python3-opencv, numpy, PIL):
    /usr/bin/python3 scripts/verification_roc_opencv.py /work/shared/devset [--pairs-out pairs.tsv]
"""
import argparse
import json
import os
import time

import cv2
import numpy as np
from PIL import Image, ImageOps


MATCHER = cv2.BFMatcher(cv2.NORM_L2)


def read_ground_truth(directory):
    images, labels = [], []
    with open(os.path.join(directory, "ground_truth.tsv"), encoding="utf-8-sig") as handle:
        lines = handle.read().splitlines()
    if lines[0].split("\t") != ["image", "landmark"]:
        raise SystemExit("ground_truth.tsv: header must be image<TAB>landmark")
    for line in lines[1:]:
        if not line.strip():
            continue
        image, landmark = line.split("\t")
        images.append(image)
        labels.append(landmark.strip() or None)
    return images, labels


def grey_1024(path):
    image = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    image.thumbnail((1024, 1024), Image.LANCZOS)
    return np.asarray(image.convert("L"))


def root_sift(descriptors):
    descriptors = descriptors.astype(np.float32)
    sums = descriptors.sum(axis=1, keepdims=True)
    sums[sums == 0] = 1
    return np.sqrt(descriptors / sums)


def ratio_matches(a, b, ratio):
    """Lowe's ratio test with OpenCV's brute-force matcher (L2 on RootSIFT), as FeatureMatcher.ratioTest does."""
    if len(a) < 2 or len(b) < 2:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    pairs = MATCHER.knnMatch(a, b, k=2)
    kept = [(m.queryIdx, m.trainIdx) for m, n in pairs if m.distance < ratio * n.distance]
    if not kept:
        return np.empty(0, dtype=int), np.empty(0, dtype=int)
    query, train = zip(*kept)
    return np.array(query), np.array(train)


def inliers(features_a, features_b, args):
    (points_a, descriptors_a), (points_b, descriptors_b) = features_a, features_b
    query, train = ratio_matches(descriptors_a, descriptors_b, args.ratio)
    if len(query) < 4:
        return 0
    _, mask = cv2.findHomography(points_a[query].reshape(-1, 1, 2), points_b[train].reshape(-1, 1, 2), cv2.RANSAC,
                                 args.threshold, maxIters=args.max_iterations, confidence=args.confidence)
    return int(mask.sum()) if mask is not None else 0


def roc_auc(positives, negatives):
    scores = np.concatenate([positives, negatives]).astype(np.float64)
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    start = 0
    while start < len(scores):
        end = start + 1
        while end < len(scores) and sorted_scores[end] == sorted_scores[start]:
            end += 1
        ranks[order[start:end]] = (start + 1 + end) / 2
        start = end
    p, n = len(positives), len(negatives)
    return float((ranks[:p].sum() - p * (p + 1) / 2) / (p * n))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("--features", type=int, default=2000)
    parser.add_argument("--ratio", type=float, default=0.8)
    parser.add_argument("--threshold", type=float, default=4.0)
    parser.add_argument("--max-iterations", type=int, default=2000)
    parser.add_argument("--confidence", type=float, default=0.999)
    parser.add_argument("--pairs-out")
    args = parser.parse_args()
    cv2.setNumThreads(2)

    images, labels = read_ground_truth(args.dataset)
    start = time.time()
    sift = cv2.SIFT_create(nfeatures=args.features)
    features = []
    for name in images:
        keypoints, descriptors = sift.detectAndCompute(grey_1024(os.path.join(args.dataset, name)), None)
        points = np.array([k.pt for k in keypoints], dtype=np.float32).reshape(-1, 2)
        descriptors = root_sift(descriptors) if descriptors is not None else np.zeros((0, 128), np.float32)
        features.append((points, descriptors))
    extracting = time.time() - start

    start = time.time()
    pairs = []
    for a in range(len(images)):
        for b in range(a + 1, len(images)):
            positive = labels[a] is not None and labels[a] == labels[b]
            pairs.append((a, b, positive, inliers(features[a], features[b], args)))
    verifying = time.time() - start

    positives = np.array([p[3] for p in pairs if p[2]], dtype=np.float64)
    negatives = np.array([p[3] for p in pairs if not p[2]], dtype=np.float64)
    if args.pairs_out:
        with open(args.pairs_out, "w", encoding="utf-8") as handle:
            for a, b, positive, count in pairs:
                handle.write(f"{images[a]}\t{images[b]}\t{int(positive)}\t{count}\n")
    print(json.dumps({
        "opencv": cv2.__version__, "pairs": len(pairs), "positives": len(positives), "negatives": len(negatives),
        "auc": roc_auc(positives, negatives),
        "mean_inliers_positive": float(positives.mean()), "mean_inliers_negative": float(negatives.mean()),
        "seconds_extracting": round(extracting, 2), "seconds_verifying": round(verifying, 2)}))


if __name__ == "__main__":
    main()
