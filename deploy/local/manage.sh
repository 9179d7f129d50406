#!/usr/bin/env bash
# Run a service's operator command against the local stack started by deploy/local/run.sh, with that
# service's environment (the run command writes it to <data dir>/env/<service>.env):
#   deploy/local/manage.sh [--data-dir DIR] <service> <command> [options]
#   deploy/local/manage.sh markets evaluate-lots
#   deploy/local/manage.sh notifications --help
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data_dir="$root/.local"
if [ "${1:-}" = "--data-dir" ]; then data_dir=$2; shift 2; fi
if [ $# -lt 1 ]; then sed -n '2,6s/^# \{0,1\}//p' "$0" >&2; exit 2; fi
service=$1
shift
env_file="$data_dir/env/$service.env"
if [ ! -f "$env_file" ]; then
  echo "Pas d'environnement pour « $service » dans $data_dir/env : lancez d'abord deploy/local/run.sh" \
       "(services : markets, participants, hours, notifications)." >&2
  exit 2
fi
set -a
. "$env_file"
set +a
exec "$root/.venv/bin/flask" --app "$service.wsgi" "$@"
