#!/usr/bin/env bash
# Load test of `landmark serve` on loopback only, bounded in time and connections.
#
# Indexes a folder of photographs (default: ../shared/devset/images), grows the index with synthetic
# distractor descriptors to COUNT images (`landmark bench grow`), starts the service and reports:
#  - cold start: from launching `landmark serve` to the first answered /healthz;
#  - that /v1/search answers exactly what `landmark search --json` prints for the same photographs,
#    before and after the load;
#  - throughput and p50/p99 latency of search by photograph and by descriptor under wrk, each with one
#    request in ten malformed (not an image, a truncated JPEG, a bad parameter; or bad JSON, a wrong
#    dimension, a bad parameter), with the count of every status answered: a 5xx other than 503 fails;
#  - the service's peak resident memory (VmHWM).
#
# Environment: LANDMARK (binary), IMAGES, COUNT (100000), DURATION (20s), CONNECTIONS (4 for photos, the
# descriptor run uses 4x as many), PORT (18321), KEEP=1 keeps the work folder.
set -euo pipefail
cd "$(dirname "$0")/.."
landmark=${LANDMARK:-.build/release/landmark}
images=${IMAGES:-../shared/devset/images}
count=${COUNT:-100000}
duration=${DURATION:-20s}
connections=${CONNECTIONS:-4}
port=${PORT:-18321}
base="http://127.0.0.1:$port"

[ -x "$landmark" ] || { echo "load_test: build first: swift build -c release --product landmark" >&2; exit 1; }
[ -d "$images" ] || { echo "load_test: no photographs at $images (set IMAGES)" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
    echo "load_test: installing wrk (Debian)" >&2
    sudo_cmd=(); [ "$(id -u)" -ne 0 ] && sudo_cmd=(sudo)
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq wrk >/dev/null
fi

work=$(mktemp -d /tmp/landmark-load.XXXXXX)
server=""
cleanup() {
    [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] && echo "load_test: kept $work" >&2 || rm -rf "$work"
}
trap cleanup EXIT

echo "== index $images, grown to $count images"
"$landmark" index "$images" --out "$work/index" 2>&1 | tail -1
"$landmark" bench grow "$work/index" --count "$((count - $(ls "$images" | wc -l)))" 2>/dev/null

echo "== cold start"
start=$(date +%s.%N)
"$landmark" serve "$work/index" --port "$port" --queue 64 --log-level warning 2>"$work/serve.log" &
server=$!
until curl -sf "$base/healthz" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.02
done
ready=$(date +%s.%N)
printf "cold start: %.2f s to the first answer (%s)\n" "$(echo "$ready - $start" | bc)" "$(curl -s "$base/healthz")"

mapfile -t photos < <(ls "$images" | head -3)
compare() {
    for photo in "${photos[@]}"; do
        served=$(curl -sf --data-binary @"$images/$photo" -H 'Content-Type: image/jpeg' "$base/v1/search?top=10" \
            | python3 -c 'import json,sys; print(json.dumps([(r["image"], r["score"]) for r in json.load(sys.stdin)["results"]]))')
        cli=$("$landmark" search "$work/index" "$images/$photo" --top 10 --json \
            | python3 -c 'import json,sys; print(json.dumps([(r["image"], r["score"]) for r in json.load(sys.stdin)["results"]]))')
        if [ "$served" != "$cli" ]; then
            echo "load_test: FAILED: the service and the CLI rank $photo differently" >&2
            echo " service: $served" >&2; echo " cli:     $cli" >&2
            exit 1
        fi
    done
    echo "results for ${#photos[@]} photographs identical to landmark search --json ($1)"
}
compare "before the load"

photo="$images/${photos[0]}"
head -c 200 "$photo" > "$work/truncated.jpg"
dimension=$(curl -s "$base/healthz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dimension"])')
python3 - "$dimension" "$work/descriptor.json" <<'PY'
import json, math, random, sys
random.seed(5)
values = [random.gauss(0, 1) for _ in range(int(sys.argv[1]))]
norm = math.sqrt(sum(v * v for v in values))
json.dump({"descriptor": [v / norm for v in values]}, open(sys.argv[2], "w"))
PY
echo '{"descriptor": [1, 2, 3]}' > "$work/wrong-dimension.json"

cat > "$work/load.lua" <<'LUA'
-- One request in ten is malformed, in three ways; every status answered is counted.
local function read(path)
  local file = assert(io.open(path, "rb"))
  local data = file:read("*a")
  file:close()
  return data
end
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  counter = 0
  statuses = {}
  local route, kind = os.getenv("ROUTE"), os.getenv("CONTENT_TYPE")
  good = wrk.format("POST", route .. "?top=10", {["Content-Type"] = kind}, read(os.getenv("BODY")))
  bad = {
    wrk.format("POST", route .. "?top=10", {["Content-Type"] = kind}, read(os.getenv("BAD_BODY_1"))),
    wrk.format("POST", route .. "?top=10", {["Content-Type"] = kind}, read(os.getenv("BAD_BODY_2"))),
    wrk.format("POST", route .. "?top=zero", {["Content-Type"] = kind}, read(os.getenv("BODY"))),
  }
end
function request()
  counter = counter + 1
  if counter % 10 == 0 then return bad[(counter / 10) % 3 + 1] end
  return good
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + n end
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("  %d requests in %.1f s: %.1f requests/s; latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms; socket errors %d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  local failed = false
  for status, n in pairs(totals) do
    io.write(string.format("  status %d: %d\n", status, n))
    if status >= 500 and status ~= 503 then failed = true end
  end
  if failed then io.write("  FAILED: a 5xx other than 503\n") end
end
LUA

run() {
    local name=$1 route=$2 type=$3 body=$4 bad1=$5 bad2=$6 clients=$7
    echo "== $name: $route, $clients connections, $duration, 10 % malformed"
    ROUTE=$route CONTENT_TYPE=$type BODY=$body BAD_BODY_1=$bad1 BAD_BODY_2=$bad2 \
        wrk -t2 -c"$clients" -d"$duration" --timeout 30s -s "$work/load.lua" "$base" | tee "$work/$name.txt" \
        | grep -E "^  " || true
    if grep -q FAILED "$work/$name.txt"; then echo "load_test: FAILED: $name answered a 5xx" >&2; exit 1; fi
}
echo "not an image" > "$work/not-an-image.jpg"
run "search by photograph" /v1/search image/jpeg "$photo" "$work/not-an-image.jpg" "$work/truncated.jpg" "$connections"
echo "{broken" > "$work/broken.json"
run "search by descriptor" /v1/search application/json "$work/descriptor.json" "$work/broken.json" "$work/wrong-dimension.json" "$((connections * 4))"

kill -0 "$server" 2>/dev/null || { echo "load_test: FAILED: the service died" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "== after the load"
grep -E "VmHWM|VmRSS" "/proc/$server/status" | sed 's/^/  /'
compare "after the load"
