#!/usr/bin/env bash
# The one command that runs the tests: installs what is missing, then runs every layer.
# Extra arguments go to pytest (for example: tests/run.sh tests/unit -x).
# Every process a test starts carries this run's mark; any still running at the end is stopped
# and fails the run (tests/leftovers.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/deploy/local/setup.sh"
# The browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
if ! command -v chromium > /dev/null; then
  echo "Installing Chromium (the web application's browser tests)…"
  if [ "$(id -u)" = 0 ]; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } > /dev/null
  else
    echo "Chromium is required by the browser tests: sudo apt-get install chromium" >&2; exit 1
  fi
fi
cd "$root"
export CLAUSES_TEST_RUN="${CLAUSES_TEST_RUN:-$(.venv/bin/python -c 'import uuid; print(uuid.uuid4().hex)')}"
status=0
.venv/bin/python -m pytest -c tests/pytest.ini "$@" || status=$?
.venv/bin/python tests/leftovers.py "$CLAUSES_TEST_RUN" || status=$((status == 0 ? 1 : status))
exit "$status"
