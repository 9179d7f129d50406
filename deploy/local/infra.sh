#!/usr/bin/env bash
# Fetch the local stack's servers, once per version, into a cache shared by every clone:
# - Apache Kafka: the broker's jars from Maven Central (deploy/local/kafka/pom.xml), run by the JVM;
# - FerretDB: a MongoDB wire-protocol server, built from the Go module proxy;
# and install Debian's PostgreSQL, FerretDB's storage, when it is missing.
# Prints nothing when both are there. CLAUSES_TOOLS_DIR moves the cache (default ~/.cache/clauses-sociales).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${CLAUSES_TOOLS_DIR:-$HOME/.cache/clauses-sociales}"
kafka_version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/kafka/pom.xml")
ferretdb_version=v1.24.2
ferretdb_patches=("$here"/ferretdb/*.patch)
kafka_dir="$tools/kafka-$kafka_version"
ferretdb_dir="$tools/ferretdb-$ferretdb_version-$(cat "${ferretdb_patches[@]}" | sha256sum | cut -c1-8)"

if ! ls /usr/lib/postgresql/*/bin/postgres > /dev/null 2>&1; then
  echo "Installing Debian's PostgreSQL server (FerretDB's storage)…"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } > /dev/null
  else
    echo "PostgreSQL is required: sudo apt-get install postgresql" >&2; exit 1
  fi
fi

for tool in java mvn go setpriv; do
  command -v "$tool" > /dev/null || { echo "$tool is required to install the local stack" >&2; exit 1; }
done

if [ ! -f "$kafka_dir/.complete" ]; then
  echo "Fetching Apache Kafka $kafka_version from Maven Central into $kafka_dir…"
  rm -rf "$kafka_dir" && mkdir -p "$kafka_dir/libs"
  mvn -q -B -f "$here/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$kafka_dir/libs"
  touch "$kafka_dir/.complete"
fi

if [ ! -x "$ferretdb_dir/ferretdb" ]; then
  echo "Building FerretDB $ferretdb_version from the Go module proxy into $ferretdb_dir…"
  # FerretDB's own main refuses to start without build/version/version.txt, which its release
  # tooling writes (the module leaves it out): build from a copy of the module with that file,
  # and with our patches (deploy/local/ferretdb/: atomic conditional writes, $in handed to PostgreSQL).
  src=$(go mod download -json "github.com/FerretDB/FerretDB@$ferretdb_version" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  build=$(mktemp -d)
  trap 'rm -rf "$build"' EXIT
  cp -r "$src/." "$build" && chmod -R u+w "$build"
  echo "$ferretdb_version" > "$build/build/version/version.txt"
  for patch in "${ferretdb_patches[@]}"; do (cd "$build" && git apply "$patch"); done
  mkdir -p "$ferretdb_dir"
  (cd "$build" && GOFLAGS=-mod=mod go build -trimpath -o "$ferretdb_dir/ferretdb.tmp" ./cmd/ferretdb)
  mv "$ferretdb_dir/ferretdb.tmp" "$ferretdb_dir/ferretdb"
fi
