#!/usr/bin/env bash
# Fine-tuning speed of the Swift implementation and of PyTorch (Debian's python3-torch, the reference tool),
# side by side in one run on the same photographs and thread count: per image, forward + backward through
# the top K units + Adam step, EfficientNet-Lite2 (or MODEL=resnet50: seeded weights on both sides, units
# are bottlenecks) at 362 px, BatchNorm frozen. Runs alternate (Swift,
# PyTorch, …); the best run of each is compared. Swift's cached-trunk figure (how `landmark train` runs)
# is printed beside it.
#
#   [MODEL=lite2|resnet50] scripts/bench_train_side_by_side.sh [IMAGES_DIR] [COUNT] [ROUNDS] [BLOCKS…]
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/devset/images}"
count="${2:-10}"
rounds="${3:-2}"
shift $(( $# < 3 ? $# : 3 )) || true
blocks=("${@:-0 2 8}")
threads=$(nproc)
model="${MODEL:-lite2}"
network="$model"
[[ "$model" == lite* ]] && network="efficientnet-$model"

swift build -c release --product landmark >/dev/null
effnet_src=$(mktemp -d)
trap 'rm -rf "$effnet_src"' EXIT
python3 -m pip download --quiet --no-deps -d "$effnet_src" efficientnet-lite-pytorch==0.1.0
(cd "$effnet_src" && python3 -m zipfile -e efficientnet_lite_pytorch-*.whl .)

echo "$count photographs from $images, $threads threads, best of $rounds alternating runs, $model 362 px"
for k in ${blocks[@]}; do
    best_swift=999 best_cached=999 best_torch=999
    for _ in $(seq "$rounds"); do
        read -r s c < <(.build/release/landmark bench train --model "$model" --size 362 --trainable-blocks "$k" --images "$images" \
            --count "$count" --json 2>/dev/null \
            | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; print(r["secondsPerImage"], r["cachedSecondsPerImage"])')
        t=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/reference/pytorch_training_bench.py --effnet-src "$effnet_src" --network "$network" \
            --images "$images" --count "$count" --size 362 --trainable-blocks "$k" --threads "$threads" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_per_image"])')
        best_swift=$(python3 -c "print(min($best_swift, $s))")
        best_cached=$(python3 -c "print(min($best_cached, $c))")
        best_torch=$(python3 -c "print(min($best_torch, $t))")
    done
    python3 -c "print('top %2s units: Swift %.3f s/image   PyTorch %.3f s/image   speed-up %.2fx   (Swift, trunk cached: %.3f s/image)' % ('$k', $best_swift, $best_torch, $best_torch / $best_swift, $best_cached))"
done
