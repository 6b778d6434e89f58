#!/usr/bin/env bash
# SIFT extraction speed of the Swift implementation and of OpenCV (Debian's python3-opencv, the reference
# tool), side by side in one run on the same photographs, size, feature budget and thread count. Both time
# detection + description only, on grey images already decoded and resized. Runs alternate (Swift,
# OpenCV, Swift, OpenCV, …) so that both see the same machine load; the best run of each is compared.
#
#   scripts/bench_sift_side_by_side.sh [IMAGES_DIR] [COUNT] [ROUNDS] [THREADS]
#
# Needs /usr/bin/python3 with cv2 (apt-get install python3-opencv), numpy and PIL.
# LANDMARK=path/to/landmark uses an existing release build instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/devset/images}"
count="${2:-20}"
rounds="${3:-2}"
threads="${4:-$(nproc)}"
size=1024
features=1000

if [ -z "${LANDMARK:-}" ]; then
    swift build -c release --product landmark >/dev/null
    LANDMARK=.build/release/landmark
fi

best_swift=999 best_opencv=999
for _ in $(seq "$rounds"); do
    swift_json=$("$LANDMARK" bench local --images "$images" --count "$count" --threads "$threads" --size "$size" \
        --features "$features" --asmk-images 1 --json 2>/dev/null)
    s=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["siftSecondsPerImage"])' "$swift_json")
    sf=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["meanFeatures"])' "$swift_json")
    opencv_json=$(/usr/bin/python3 scripts/reference/opencv_sift_bench.py --images "$images" --count "$count" \
        --size "$size" --features "$features" --threads "$threads")
    o=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds_per_image"])' "$opencv_json")
    of=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["mean_features"])' "$opencv_json")
    best_swift=$(python3 -c "print(min($best_swift, $s))")
    best_opencv=$(python3 -c "print(min($best_opencv, $o))")
done
echo "$count photographs from $images at $size px, $features features, $threads threads, best of $rounds alternating runs"
python3 -c "print('SIFT detect+describe   Swift %.1f ms/image (%.0f features)   OpenCV %.1f ms/image (%.0f features)   Swift/OpenCV %.2fx' % (1000 * $best_swift, $sf, 1000 * $best_opencv, $of, $best_swift / $best_opencv))"
