#!/usr/bin/env bash
# Runs the whole test suite: installs what is missing, then builds and runs every test.
#
# Tests are built optimised (-c release, with -enable-testing for @testable imports): the CNN reference
# equivalence tests run ResNet-50/101 and EfficientNet-Lite on ten photographs at up to 1024 px, which
# takes minutes in a debug build and about one minute optimised. LANDMARK_FULL_EQUIVALENCE=1 runs that
# check on every photograph, size and scale its fixtures hold (tests that need ../shared/devset or the
# downloaded weights skip themselves when those are absent).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --with-browser
# The services of the distributed tests (issue 15): Spark (PySpark in local mode) and PostgreSQL with
# pgvector. Each test that needs one skips itself, saying why, when it could not be started.
./scripts/services/spark.sh >/dev/null || echo "test: Spark is unavailable; the Spark tests will be skipped" >&2
if database_url=$(./scripts/services/postgres.sh); then
    export LANDMARK_TEST_DATABASE_URL=$database_url
else
    echo "test: PostgreSQL with pgvector could not start; the database tests will be skipped" >&2
fi
swift build -c release --build-tests -Xswiftc -enable-testing
LANDMARK_FULL_EQUIVALENCE=1 swift test -c release --skip-build -Xswiftc -enable-testing
# The service against its OpenAPI document: schemathesis (PyPI) on loopback, every route, positive and
# negative requests; no 5xx, no answer the document does not describe.
if [ -d ../shared/devset/images ]; then
    # A fixed seed: the same requests on every run, so a failure here is a change in the service, not luck.
    # Run it without SEED (and with more EXAMPLES) to explore.
    EXAMPLES=50 SEED=20261204 ./scripts/api_fuzz.sh
else
    echo "test: skipped scripts/api_fuzz.sh: ../shared/devset/images is absent" >&2
fi
