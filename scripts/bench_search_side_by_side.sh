#!/usr/bin/env bash
# Approximate search of the Swift indexes and of FAISS, side by side in one run on the same vectors:
# `landmark bench search` writes a synthetic clustered store (and the raw vectors), measures exact search,
# IVF-PQ and HNSW, then scripts/reference/faiss_search_bench.py builds the same factory strings with FAISS
# and measures them the same way (1 and all threads, recall@1/10/100 against exact search).
#
#   scripts/bench_search_side_by_side.sh [COUNT] [DIMENSION] [INDEX…]
#   e.g. scripts/bench_search_side_by_side.sh 1000000 512 IVF4096,PQ64 HNSW32
#
# FAISS comes from PYTHON (default: /tmp/faissenv/bin/python with the faiss-cpu wheel when present, else
# /usr/bin/python3 with Debian's python3-faiss). NPROBE, EF_SEARCH, RERANK override the sweeps.
# LANDMARK=path/to/landmark uses an existing release build instead of building one. RESULTS=DIR keeps both
# JSON reports (swift.json with peak RSS and open time, faiss.json) there; the vectors are always removed.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-100000}"
dimension="${2:-512}"
shift $(( $# > 2 ? 2 : $# )) || true
indexes=("$@")
[ ${#indexes[@]} -gt 0 ] || indexes=(IVF1024,PQ64 HNSW32)
nprobe="${NPROBE:-8,16,32,64}"
ef="${EF_SEARCH:-32,64,128,256}"
rerank="${RERANK:-256}"
python="${PYTHON:-}"
if [ -z "$python" ]; then
    if [ -x /tmp/faissenv/bin/python ]; then python=/tmp/faissenv/bin/python; else python=/usr/bin/python3; fi
fi
if [ -z "${LANDMARK:-}" ]; then
    swift build -c release --product landmark >/dev/null
    LANDMARK=.build/release/landmark
fi
data=$(mktemp -d /tmp/landmark-search-bench.XXXXXX)
keep_results() {
    if [ -n "${RESULTS:-}" ]; then mkdir -p "$RESULTS" && cp "$data"/*.json "$RESULTS"/ 2>/dev/null || true; fi
    rm -rf "$data"
}
trap keep_results EXIT
index_options=()
for index in "${indexes[@]}"; do index_options+=(--index "$index"); done

"$LANDMARK" bench search --count "$count" --dimension "$dimension" "${index_options[@]}" --nprobe "$nprobe" \
    --ef-search "$ef" --rerank "$rerank" --data "$data" --export-raw --json > "$data/swift.json"
"$python" scripts/reference/faiss_search_bench.py "$data" "$dimension" "${index_options[@]}" --nprobe "$nprobe" \
    --ef-search "$ef" --rerank "$rerank" > "$data/faiss.json"

python3 - "$data/swift.json" "$data/faiss.json" <<'PY'
import json, sys
swift = json.load(open(sys.argv[1]))
faiss = json.load(open(sys.argv[2]))
print(f"{swift['count']} x {swift['dimension']} vectors, {swift['queries']} queries, faiss {faiss['faiss']}")
def key(row):
    p = row["parameters"]
    return (row["factory"], p.get("probes", p.get("nprobe")), p.get("efSearch"))
theirs = {key(r): r for r in faiss["measurements"]}
print(f"{'index':14} {'setting':12} {'build s':>16} {'QPS@1':>15} {'QPS@' + str(swift['threads']):>15} {'R@100':>13}  swift/faiss QPS@{swift['threads']}")
for row in swift["measurements"]:
    other = theirs.get(key(row))
    p = row["parameters"]
    setting = f"nprobe={p['probes']}" if "probes" in p else (f"ef={p['efSearch']}" if "efSearch" in p else "")
    if other is None:
        print(f"{row['factory']:14} {setting:12} (no FAISS row)")
        continue
    print(f"{row['factory']:14} {setting:12} {row['buildSeconds']:7.1f} / {other['buildSeconds']:6.1f} "
          f"{row['queriesPerSecondOneThread']:7.0f}/{other['queriesPerSecondOneThread']:<7.0f} "
          f"{row['queriesPerSecondAllThreads']:7.0f}/{other['queriesPerSecondAllThreads']:<7.0f} "
          f"{row['recallAt100']:.3f}/{other['recallAt100']:.3f}  "
          f"{row['queriesPerSecondAllThreads'] / other['queriesPerSecondAllThreads']:.2f}")
PY
