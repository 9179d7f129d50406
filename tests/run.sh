#!/usr/bin/env bash
# The one command that runs the tests: installs what is missing, then runs every layer.
# Extra arguments go to pytest (for example: tests/run.sh tests/unit -x).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/deploy/local/setup.sh"
cd "$root"
exec .venv/bin/python -m pytest -c tests/pytest.ini "$@"
