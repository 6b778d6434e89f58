#!/usr/bin/env bash
# Makes Apache Spark available for `landmark … --spark-master local[N]` and the tests: PySpark from PyPI
# (it carries Spark's jars and spark-submit) in a private virtual environment, and a Java runtime from
# Debian when none is installed. Idempotent; prints the spark-submit path, which `landmark` also finds
# there by itself. A real cluster needs none of this: give --spark-submit (or SPARK_HOME) instead.
# Environment: SPARK_VENV (default ~/.cache/landmark/spark-venv), PYSPARK_VERSION (4.3.0).
set -euo pipefail
venv=${SPARK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/landmark/spark-venv}
version=${PYSPARK_VERSION:-4.3.0}
if ! command -v java >/dev/null 2>&1; then
    echo "services/spark: installing a Java runtime (Debian's openjdk-17-jre-headless)" >&2
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
    $sudo_cmd apt-get install -y -q openjdk-17-jre-headless >&2
fi
if [ ! -x "$venv/bin/spark-submit" ] || ! "$venv/bin/python3" -c "import pyspark, sys; sys.exit(pyspark.__version__ != '$version')" 2>/dev/null; then
    echo "services/spark: installing PySpark $version into $venv (about 450 MB, once)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "pyspark==$version" >&2
fi
echo "$venv/bin/spark-submit"
