#!/usr/bin/env python3
"""Label-cleaning experiment (issue "learning from unlabelled photos", METHODS.md §6).

    scripts/experiments/noisy_labels.py make BENCHMARK OUT_DIR [--fraction 0.2] [--seed 1]
        writes OUT_DIR/noisy.tsv (image<TAB>landmark, a seeded fraction of the labelled images moved to
        another landmark of the set) and OUT_DIR/corrupted.txt (the moved images)
    scripts/experiments/noisy_labels.py score OUT_DIR CLEAN.tsv
        prints removal precision / recall of the corrupted labels and how many clean images were lost
"""
import json, os, random, sys


def read(path):
    rows = []
    with open(path) as f:
        assert f.readline().rstrip("\n") == "image\tlandmark"
        for line in f:
            if line.strip():
                image, landmark = line.rstrip("\n").split("\t")
                rows.append((image, landmark))
    return rows


def make(benchmark, out, fraction=0.2, seed=1):
    rows = read(os.path.join(benchmark, "ground_truth.tsv"))
    labelled = [i for i, (_, landmark) in enumerate(rows) if landmark]
    landmarks = sorted({landmark for _, landmark in rows if landmark})
    rng = random.Random(seed)
    chosen = rng.sample(labelled, round(fraction * len(labelled)))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "corrupted.txt"), "w") as corrupted:
        for i in sorted(chosen):
            image, landmark = rows[i]
            rows[i] = (image, rng.choice([other for other in landmarks if other != landmark]))
            corrupted.write(image + "\n")
    with open(os.path.join(out, "noisy.tsv"), "w") as f:
        f.write("image\tlandmark\n")
        for image, landmark in rows:
            f.write(f"{image}\t{landmark}\n")
    print(f"{len(chosen)} of {len(labelled)} labels moved; {out}/noisy.tsv")


def score(out, clean):
    corrupted = set(open(os.path.join(out, "corrupted.txt")).read().split())
    noisy = {image for image, landmark in read(os.path.join(out, "noisy.tsv")) if landmark}
    kept = {image for image, _ in read(clean)}
    removed = noisy - kept
    right = len(removed & corrupted)
    result = {"removed": len(removed), "corrupted": len(corrupted),
              "removal_precision": right / len(removed) if removed else 1.0,
              "removal_recall": right / len(corrupted) if corrupted else 1.0,
              "clean_images_lost": len(removed - corrupted), "clean_images": len(noisy - corrupted)}
    print(json.dumps(result))


if __name__ == "__main__":
    if sys.argv[1] == "make":
        args = sys.argv[2:]
        fraction = float(args[args.index("--fraction") + 1]) if "--fraction" in args else 0.2
        seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
        make(args[0], args[1], fraction, seed)
    else:
        score(sys.argv[2], sys.argv[3])
