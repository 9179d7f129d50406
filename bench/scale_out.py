"""Scale-out of ingestion on the local stack (printed figures, not a test): what adding processes buys, and
where the machine's cores run out.

    .venv/bin/python bench/scale_out.py            # about 8 minutes on 2 cores
    .venv/bin/python bench/scale_out.py --help

Starts bench/ingestion.py's stack, then for each configuration — the hours service's gunicorn workers (1, 2,
4) and the Kafka workers of every service (1 or 2 consumers in each group; the topics have 3 partitions, the
most consumers of a group that get work) — restarts those processes and measures on lots and participants of its own:
  (a) single declarations posted as fast as 8 clients go: requests/s, p99;
  (b) a batch of lines: accepted lines/s, and lines/s until the lots' progress counts them all.
"""
import argparse
import dataclasses
import signal
import sys
import tempfile
import time
from pathlib import Path

from ingestion import Bench, Stack  # the same stack, clients and measures; puts deploy/local on the path

from stack import SERVICES  # noqa: E402

CONFIGURATIONS = [(1, 1), (2, 1), (4, 1), (1, 2), (2, 2), (4, 2)]  # (hours web workers, consumers per service)


def reconfigure(stack: Stack, platform, web_workers: int, consumers: int) -> None:
    """Restart the hours web app with ``web_workers`` gunicorn workers; run ``consumers`` workers per service
    (the extra ones serve no metrics: their port is the first one's)."""
    config = dataclasses.replace(stack.config, web_workers=web_workers)
    stack.stop_process("hours-web")
    stack.spawn("hours-web", *config.web_command("hours"))
    for service in SERVICES:
        extra = f"{service}-worker-2"
        if consumers == 2 and extra not in stack.procs:
            argv, env = config.worker_command(service)
            stack.spawn(extra, argv, {**env, "METRICS_PORT": "0"})
        elif consumers == 1 and extra in stack.procs:
            stack.stop_process(extra)
    platform.wait_ready(timeout=60)


def measure(platform, singles: int, batch_lines: int, clients: int) -> dict:
    """On lots and participants of its own: the lines a check reads do not grow from one configuration to the
    next (each line is checked against its participant's lines of the month)."""
    bench = Bench(platform, participants=100)
    per_lot = len(bench.lines("x"))
    single_lot = bench.new_lot(0)
    batch_lots = [bench.new_lot(1 + i) for i in range(-(-batch_lines // per_lot))]
    bench.wait_learnt(single_lot, bench.participants)
    for lot_id in batch_lots:
        bench.wait_learnt(lot_id, bench.participants[:1])
    bench.drained(batch_lots[-1], 1)
    a = bench.singles(bench.lines(single_lot)[:singles], clients)
    bench.drained(single_lot, 1 + 7 * a["ok"])
    b = bench.batch(batch_lots, batch_lines, 120)
    return {"a": a, "b": b}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--single", type=int, default=300, help="single declarations in (a)")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch-lines", type=int, default=5000)
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        stack = Stack(Path(tmp), "postgresql")
        try:
            t0 = time.perf_counter()
            platform = stack.start()
            print(f"stack started in {time.perf_counter() - t0:.0f} s", flush=True)
            for web_workers, consumers in CONFIGURATIONS:
                reconfigure(stack, platform, web_workers, consumers)
                stack.settle()
                figures = measure(platform, args.single, args.batch_lines, args.clients)
                print(web_workers, consumers, figures["a"], {k: v for k, v in figures["b"].items()
                                                             if k != "expected"}, flush=True)
                rows.append((web_workers, consumers, figures["a"], figures["b"]))
        finally:
            stack.stop()
    print(f"whole run: {time.perf_counter() - t0:.0f} s\n")
    table = [("hours web workers", "consumers per service", "(a) req/s", "(a) p99 ms", "(b) accepted lines/s",
              "(b) counted lines/s")]
    table += [(str(w), str(c), f"{a['rps']:.0f}", f"{a['p99_ms']:.0f}", f"{b['accept_lps']:.0f}",
               f"{b['e2e_lps']:.0f}" + ("" if b["complete"] else " (gave up)")) for w, c, a, b in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)))


if __name__ == "__main__":
    main()
