"""Census import benchmark: a national year's DECP file (500,000 records) through the operator's command.

    .venv/bin/python bench/census_import.py --mongodb-url mongodb://127.0.0.1:27017
    .venv/bin/python bench/census_import.py --records 100000 --region-share 0.1 --format csv

Writes a file with the project's generator (tests/support/decp.py: schema 2.0 field names, records of
every département, ``--region-share`` of them in the Aude), then runs
``flask --app markets.wsgi import-census`` on it twice (the first import, then the same file again,
which changes nothing) against the MongoDB-protocol server given, in a database of its own that it
drops afterwards. Prints records/s and the command's peak memory (maximum resident set size). Not run
by the tests.
"""
import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "deploy" / "local"))

import pymongo  # noqa: E402

from support.decp import census, write_csv, write_json  # noqa: E402


def run_import(path: Path, env: dict) -> tuple[float, float, str]:
    """(seconds, peak resident memory in MB, its output) of one import-census command."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "markets.wsgi", "import-census", str(path)],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"import-census failed:\n{done.stdout}{done.stderr}")
    # the largest resident set of any child waited for so far: each import is larger than the previous
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--region-share", type=float, default=0.02, help="share of records in the Aude (0.02)")
    parser.add_argument("--format", choices=["json", "csv"], default="json")
    parser.add_argument("--mongodb-url", default=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"))
    args = parser.parse_args()

    database = f"bench_census_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "MONGODB_URL": args.mongodb_url, "MONGODB_DB": database, "LOG_LEVEL": "WARNING",
           "REGION_FILE": str(ROOT / "deploy" / "regions" / "aude.yaml"),
           "AUTH_JWT_SECRET": "bench-only-secret-long-enough-for-hs256-0123456789"}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"decp-national.{args.format}"
        started = time.perf_counter()
        records = census(args.records, region_share=args.region_share)
        rows = (write_json if args.format == "json" else write_csv)(path, records)
        print(f"file: {args.records:,} records ({rows:,} {'records' if args.format == 'json' else 'rows'}), "
              f"{path.stat().st_size / 1e6:,.0f} MB, written in {time.perf_counter() - started:.0f} s")
        try:
            for label in ("first import", "same file again"):
                seconds, peak_mb, output = run_import(path, env)
                print(f"{label}: {rows / seconds:,.0f} records/s ({seconds:.1f} s), peak memory {peak_mb:.0f} MB")
                print(f"  {output.splitlines()[0]}")
        finally:
            pymongo.MongoClient(args.mongodb_url).drop_database(database)
    print(f"load average while measuring (1, 5, 15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())}"
          f" on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
