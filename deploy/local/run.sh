#!/usr/bin/env bash
# The one command that runs the platform locally: installs what is missing, then starts everything.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bash "$root/deploy/local/setup.sh"
exec "$root/.venv/bin/python" "$root/deploy/local/run.py" "$@"
