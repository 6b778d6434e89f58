#!/usr/bin/env bash
# Runs schemathesis (PyPI, in a private venv) against `landmark serve` on loopback: requests generated
# from /openapi.json, positive and negative, on every route, with changes allowed on a throwaway copy
# of the photographs. Fails on any 5xx, any answer the document does not describe (status, content
# type, headers, body schema), any malformed request accepted, or a wrong answer to an unsupported
# method. Every check runs except positive_data_acceptance, which reports the 415/422 answers to
# "binary" bodies that are not usable photographs (a 1×1 JPEG, a ZIP): the document cannot say
# "a JPEG of at least 8×8 pixels", and the service is right to refuse them.
#
# Environment: LANDMARK (binary), IMAGES (default ../shared/devset/images; 12 are copied), EXAMPLES (100),
# PORT (18322), SEED (unset: a new random run each time; the test script fixes one so CI is repeatable).
set -euo pipefail
cd "$(dirname "$0")/.."
landmark=${LANDMARK:-.build/release/landmark}
images=${IMAGES:-../shared/devset/images}
port=${PORT:-18322}
venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/landmark/schemathesis-venv}

[ -x "$landmark" ] || { echo "api_fuzz: build first: swift build -c release --product landmark" >&2; exit 1; }
if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "api_fuzz: installing schemathesis into $venv" >&2
    python3 -m venv "$venv" && "$venv/bin/pip" install -q "schemathesis==4.32.5"
fi
work=$(mktemp -d /tmp/landmark-api-fuzz.XXXXXX)
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/images"
find "$images" -maxdepth 1 -type f \( -iname '*.jpg' -o -iname '*.png' \) | sort | head -12 | xargs -I{} cp {} "$work/images/"
# Labels for recognition: the copied photographs' rows of the folder's ground truth, else one label each.
labels="$images/../ground_truth.tsv"
{
    printf 'image\tlandmark\n'
    for file in "$work/images"/*; do
        name=$(basename "$file")
        label=$(awk -F'\t' -v n="$name" '{ k = $1; sub(/.*\//, "", k) } k == n { print $2; exit }' "$labels" 2>/dev/null || true)
        printf '%s\t%s\n' "$name" "${label:-${name%%__*}}"
    done
} > "$work/images/ground_truth.tsv"
"$landmark" index "$work/images" --out "$work/index" 2>&1 | tail -1
"$landmark" serve "$work/index" --port "$port" --train-index "$work/index" --no-calibration --allow-updates \
    --log-level warning 2>"$work/serve.log" &
server=$!
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
    kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
"$venv/bin/schemathesis" run "http://127.0.0.1:$port/openapi.json" --checks all --exclude-checks positive_data_acceptance \
    --max-examples "${EXAMPLES:-100}" --request-timeout 60 ${SEED:+--seed "$SEED"}
kill -0 "$server" 2>/dev/null || { echo "api_fuzz: FAILED: the service died" >&2; exit 1; }
echo "api_fuzz: the service is still up"
