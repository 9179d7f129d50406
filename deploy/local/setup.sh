#!/usr/bin/env bash
# Create .venv and install the platform, the local stack and the test tools; fetch Apache Kafka and
# build FerretDB (deploy/local/infra.sh). Idempotent: reinstalls only when a dependency file changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
"$python" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or later is required"'
[ -x .venv/bin/python ] || "$python" -m venv .venv
stamp=.venv/.installed
inputs=$(cat libs/plumbing/pyproject.toml services/*/pyproject.toml deploy/local/requirements.txt \
  tests/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$inputs" ]; then
  echo "Installing the platform into .venv (log: .venv/install.log)…"
  if ! { .venv/bin/pip install --disable-pip-version-check --upgrade pip &&
         .venv/bin/pip install --disable-pip-version-check \
           -e libs/plumbing $(printf -- '-e %s ' services/*/) \
           -r deploy/local/requirements.txt -r tests/requirements.txt; } > .venv/install.log 2>&1; then
    tail -40 .venv/install.log
    echo "Installation failed; the whole log is in .venv/install.log" >&2
    exit 1
  fi
  echo "$inputs" > "$stamp"
fi
# The observatory's PDFs (WeasyPrint) need Pango; Debian 12 has it as libpango-1.0-0 and libpangoft2-1.0-0.
if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0'; then
  echo "Installing Pango (the observatory's PDF reports)…"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libpango-1.0-0 \
        libpangoft2-1.0-0 fonts-dejavu-core; } > /dev/null
  else
    echo "Pango is required: sudo apt-get install libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core" >&2; exit 1
  fi
fi
# The web application serves its browser assets itself (no CDN): htmx, from npm (services/web/package.json).
if [ ! -f services/web/web/static/vendor/htmx.min.js ] ||
   [ services/web/package-lock.json -nt services/web/web/static/vendor/htmx.min.js ]; then
  echo "Installing the web application's browser assets (npm)…"
  (cd services/web && npm ci --silent --no-audit --no-fund > /dev/null)
  mkdir -p services/web/web/static/vendor
  cp services/web/node_modules/htmx.org/dist/htmx.min.js services/web/web/static/vendor/
fi
bash deploy/local/infra.sh
