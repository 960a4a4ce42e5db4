#!/usr/bin/env bash
# Fetches a complete Spark and caches it by version outside the build tree, like the
# control-plane binaries: PyPI's pyspark source distribution carries one in its deps/ folder
# (bin/spark-submit, jars/ with spark-kubernetes_2.13 and fabric8's Kubernetes client).
# Prints the directory to use as SPARK_HOME. Runs on Debian's Java 17 (scripts/deps.sh).
#
#   scripts/fetch-spark.sh            # SPARK_VERSION from scripts/versions.sh
set -euo pipefail
. "$(dirname "$0")/versions.sh"
out="$SPOTGUARD_CACHE/spark-$SPARK_VERSION"
if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
for tool in python3 java tar; do
  command -v "$tool" >/dev/null || { echo "fetch-spark: missing $tool: run scripts/deps.sh" >&2; exit 1; }
done
python3 -m pip --version >/dev/null 2>&1 || { echo "fetch-spark: missing pip: run scripts/deps.sh" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/spotguard-spark-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-spark: downloading pyspark $SPARK_VERSION (about 430 MB) from PyPI" >&2
python3 -m pip download --quiet --no-deps --no-binary :all: "pyspark==$SPARK_VERSION" -d "$tmp" >&2
tar xzf "$tmp/pyspark-$SPARK_VERSION.tar.gz" -C "$tmp" "pyspark-$SPARK_VERSION/deps"
home="$tmp/pyspark-$SPARK_VERSION/deps"
for f in bin/spark-submit bin/spark-class "jars/spark-kubernetes_2.13-$SPARK_VERSION.jar" "jars/spark-core_2.13-$SPARK_VERSION.jar"; do
  [ -e "$home/$f" ] || { echo "fetch-spark: pyspark $SPARK_VERSION has no $f" >&2; exit 1; }
done
# The sdist's scripts lack the execute bit.
chmod +x "$home"/bin/* "$home"/sbin/* 2>/dev/null || true
# It must run here: spark-submit --version starts a JVM and prints Spark's version.
if ! SPARK_HOME="$home" "$home/bin/spark-submit" --version 2>&1 | grep -q "version $SPARK_VERSION"; then
  echo "fetch-spark: spark-submit --version did not report $SPARK_VERSION:" >&2
  SPARK_HOME="$home" "$home/bin/spark-submit" --version >&2 || true
  exit 1
fi
mkdir -p "$SPOTGUARD_CACHE"
rm -rf "$out.tmp" "$out"
mv "$home" "$out.tmp" && mv "$out.tmp" "$out" && touch "$out/.complete"
echo "$out"
