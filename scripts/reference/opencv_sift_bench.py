#!/usr/bin/env python3
"""Times OpenCV's SIFT (detectAndCompute) on photographs resized to a longer side, grey, uint8.

Decoding and resizing are done before timing, as `landmark bench local` does for its own SIFT.
Prints one JSON object: seconds_per_image (median), mean_features, images, threads.
"""
import argparse
import json
import os
import time

import cv2
import numpy as np
from PIL import Image


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", required=True)
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--features", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)

    names = []
    for root, _, files in os.walk(args.images):
        names += [os.path.join(root, f) for f in files if f.lower().endswith((".jpg", ".jpeg", ".png"))]
    names.sort()
    greys = []
    for name in names[: args.count]:
        image = Image.open(name).convert("RGB")
        scale = args.size / max(image.size)
        if scale < 1:
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
        greys.append(np.asarray(image.convert("L")))

    sift = cv2.SIFT_create(nfeatures=args.features)
    sift.detectAndCompute(greys[0], None)  # warm-up
    times, counts = [], []
    for grey in greys:
        start = time.perf_counter()
        keypoints, _ = sift.detectAndCompute(grey, None)
        times.append(time.perf_counter() - start)
        counts.append(len(keypoints))
    times.sort()
    print(json.dumps({"seconds_per_image": times[len(times) // 2], "mean_features": sum(counts) / len(counts),
                      "images": len(greys), "threads": args.threads, "opencv": cv2.__version__}))


if __name__ == "__main__":
    main()
