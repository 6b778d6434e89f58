#!/usr/bin/env bash
# The figures of issue 15's Spark acceptance, in one run (a benchmark, not a test: minutes of work):
#  1. `landmark index` of 1,000 real photographs (devset + trainset and mirrored/cropped variants) in one
#     process, then through Spark with 2 local workers while one shard task is killed with SIGKILL
#     mid-job; the two stores must be byte-identical (same vectors, same order).
#  2. The kNN graph of 200,000 synthetic 128-d vectors through Spark with 1 and with 2 local workers
#     (one core per task); speed-up and byte-identical graphs.
# Environment: LANDMARK (binary), PHOTOS (1000), VECTORS (200000), WORK (a temporary folder, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
landmark=$(realpath "${LANDMARK:-.build/release/landmark}")
photos=${PHOTOS:-1000}
vectors=${VECTORS:-200000}
[ -x "$landmark" ] || { echo "bench_spark: build first: swift build -c release --product landmark" >&2; exit 1; }
./scripts/services/spark.sh >/dev/null
work=${WORK:-$(mktemp -d /tmp/landmark-bench-spark.XXXXXX)}
[ -n "${WORK:-}" ] || trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

/usr/bin/python3 scripts/spark/make_photo_set.py "$work/photos" "$photos" ../shared/devset/images ../shared/trainset/images
start=$(now); "$landmark" index "$work/photos" --out "$work/single" -q | tail -1; single=$(echo "$(now) - $start" | bc)
start=$(now)
"$landmark" index "$work/photos" --out "$work/spark" --spark-master 'local[2]' --checkpoint-every 16 > "$work/spark.out" 2>&1 &
job=$!
# Kill one shard's `landmark index` once it has described some photos, as a lost worker would die.
victim=""
for _ in $(seq 1 600); do
    victim=$(pgrep -f -- "--shard 3/" || true)
    [ -n "$victim" ] && [ -n "$(ls "$work/spark/.landmark-shards/shard-03/.landmark-work" 2>/dev/null | grep '^shard-' || true)" ] && break
    sleep 0.2
done
if [ -n "$victim" ]; then kill -9 $victim && echo "bench_spark: killed shard 3's task (pid $victim) mid-job"; fi
wait "$job"; spark=$(echo "$(now) - $start" | bc)
tail -2 "$work/spark.out"
if cmp -s "$work/single/descriptors.lmd" "$work/spark/descriptors.lmd" && cmp -s "$work/single/index.json" "$work/spark/index.json"; then
    echo "bench_spark: index: the Spark store and manifest are byte-identical to the single-process ones"
else
    echo "bench_spark: FAILED: the Spark index differs from the single-process one" >&2; exit 1
fi
printf 'bench_spark: index of %d photos: single process %.1f s (%.1f images/s), Spark local[2] with a killed task %.1f s (%.1f images/s)\n' \
    "$photos" "$single" "$(echo "$photos / $single" | bc -l)" "$spark" "$(echo "$photos / $spark" | bc -l)"

"$landmark" bench synthetic "$work/knn" --count "$vectors" --dimension 128
for workers in 1 2; do
    start=$(now)
    "$landmark" knn "$work/knn" --k 10 --out "$work/graph-$workers.lmk" --spark-master "local[$workers]" --spark-tasks 8 2>/dev/null
    echo "$(now) - $start" | bc > "$work/seconds-$workers"
done
cmp "$work/graph-1.lmk" "$work/graph-2.lmk" && echo "bench_spark: kNN: the graphs of 1 and 2 workers are byte-identical"
one=$(cat "$work/seconds-1"); two=$(cat "$work/seconds-2")
printf 'bench_spark: kNN graph of %d vectors (k 10, 8 blocks): 1 worker %.1f s, 2 workers %.1f s, speed-up %.2fx\n' \
    "$vectors" "$one" "$two" "$(echo "$one / $two" | bc -l)"
