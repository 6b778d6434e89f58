#!/usr/bin/env bash
# CNN extraction speed of the Swift implementation and of PyTorch (Debian's python3-torch, the reference
# tool), side by side in one run on the same photographs and thread count. Runs alternate (Swift, PyTorch,
# Swift, PyTorch, …) so that both see the same machine load; the best run of each is compared.
#
#   scripts/bench_cnn_side_by_side.sh [IMAGES_DIR] [COUNT] [ROUNDS]
#
# Needs /usr/bin/python3 with torch and torchvision (apt-get install python3-torch python3-torchvision);
# EfficientNet-Lite's PyTorch code comes from PyPI's efficientnet-lite-pytorch wheel (downloaded, not installed).
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/devset/images}"
count="${2:-10}"
rounds="${3:-2}"
threads=$(nproc)

swift build -c release --product landmark >/dev/null
effnet_src=$(mktemp -d)
trap 'rm -rf "$effnet_src"' EXIT
python3 -m pip download --quiet --no-deps -d "$effnet_src" efficientnet-lite-pytorch==0.1.0 \
    && (cd "$effnet_src" && python3 -m zipfile -e efficientnet_lite_pytorch-*.whl .) || echo "no EfficientNet-Lite PyTorch code: Lite2 row skipped" >&2

measure() {  # label swift-model torch-network size
    local label=$1 model=$2 network=$3 size=$4 best_swift=999 best_torch=999
    for _ in $(seq "$rounds"); do
        s=$(.build/release/landmark bench cnn --model "$model" --size "$size" --images "$images" --count "$count" --json 2>/dev/null \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["secondsPerImage"])')
        t=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 scripts/reference/pytorch_extraction_bench.py --network "$network" \
            --size "$size" --images "$images" --count "$count" --threads "$threads" --effnet-src "$effnet_src" \
            | python3 -c 'import json,sys; print(json.load(sys.stdin)["seconds_per_image"])')
        best_swift=$(python3 -c "print(min($best_swift, $s))")
        best_torch=$(python3 -c "print(min($best_torch, $t))")
    done
    python3 -c "print('%-32s Swift %.3f s/image   PyTorch %.3f s/image   speed-up %.2fx' % ('$label', $best_swift, $best_torch, $best_torch / $best_swift))"
}

echo "$count photographs from $images, $threads threads, best of $rounds alternating runs"
measure "ResNet-101 GeM 1024 px" resnet101 resnet101 1024
measure "EfficientNet-Lite2 GeM 512 px" lite2 efficientnet-lite2 512
