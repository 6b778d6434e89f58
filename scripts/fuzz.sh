#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer + AddressSanitizer:
#   scripts/fuzz.sh [SECONDS] [TARGET…]      (default: 600 s each, every target)
# Targets: pickle checkpoint descriptor-store local-feature-store asmk-vocabulary asmk-index manifest
# folder-benchmark gldv2-csv image-decoding (Sources/LandmarkFuzzing/FuzzTarget.swift says what each feeds).
#
# Builds `landmark-fuzz` with -sanitize=fuzzer,address into .build-fuzz, seeds each corpus from the
# committed one (Tests/LandmarkFuzzingTests/Corpus/TARGET, written by `landmark-fuzz seeds`) plus the
# test fixtures of that format, and runs each target for SECONDS. Work corpora and findings go to
# .build-fuzz/runs/TARGET/; a crash, leak-free OOM (over 2 GB) or timeout (over 10 s per input) stops
# that target with its input saved as crash-*/oom-*/timeout-*, to be fixed and committed to the corpus.
# A summary line per target (executions, coverage, findings) ends the run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(pickle checkpoint descriptor-store local-feature-store asmk-vocabulary asmk-index manifest folder-benchmark gldv2-csv image-decoding)
fi

swift build -c release --scratch-path .build-fuzz --product landmark-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DLANDMARK_LIBFUZZER
binary=.build-fuzz/release/landmark-fuzz

status=0
for target in "${targets[@]}"; do
    run=.build-fuzz/runs/$target
    mkdir -p "$run/corpus" "$run/findings"
    cp -n Tests/LandmarkFuzzingTests/Corpus/"$target"/* "$run/corpus/" 2>/dev/null || true
    case $target in
        pickle) cp -n Tests/LandmarkEvaluationTests/Fixtures/*.pkl "$run/corpus/" ;;
        checkpoint) cp -n Tests/LandmarkCheckpointTests/Fixtures/*.pth Tests/LandmarkCheckpointTests/Fixtures/*.safetensors "$run/corpus/" ;;
        image-decoding) find Tests/LandmarkImageTests/Fixtures -type f -size -64k \( -name '*.jpg' -o -name '*.png' -o -name '*.jpeg' \) \
            -exec cp -n {} "$run/corpus/" \; ;;
    esac
    echo "== $target: $seconds s"
    set +e
    LANDMARK_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1 \
        "$binary" "$run/corpus" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$run/findings/" -print_final_stats=1 > "$run/log.txt" 2>&1
    code=$?
    set -e
    executions=$(grep -E "^stat::number_of_executed_units" "$run/log.txt" | awk '{print $2}')
    coverage=$(grep -oE "cov: [0-9]+" "$run/log.txt" | tail -1)
    findings=$(ls "$run/findings" | wc -l)
    echo "$target: exit $code, ${executions:-?} executions, ${coverage:-cov: ?}, $findings findings in $run/findings"
    if [ "$code" -ne 0 ] || [ "$findings" -ne 0 ]; then status=1; tail -40 "$run/log.txt"; fi
done
exit $status
