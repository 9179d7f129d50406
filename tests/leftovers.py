"""After a test run: stop every process the run started and left behind, and say so.

tests/run.sh marks the run with CLAUSES_TEST_RUN=<id> in the environment; every process a test starts
(brokers, stores, gunicorn masters and workers, service workers) inherits it, whichever way the test
ended — even a pytest killed hard, whose fixtures never ran their teardown. Exit status 1 when some
were left running.

    python tests/leftovers.py <run id>
"""
import os
import signal
import sys
import time


def marked(run_id: str) -> dict[int, str]:
    """pid -> command line of the processes whose environment carries this run's mark."""
    mark = f"CLAUSES_TEST_RUN={run_id}".encode()
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as environ:
                if mark not in environ.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                found[int(pid)] = cmdline.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue  # ended meanwhile, or not ours to read
    return found


def stop(pids) -> None:
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in pids):
            time.sleep(0.1)


def main(run_id: str) -> int:
    left = marked(run_id)
    if not left:
        return 0
    print(f"\n{len(left)} process(es) left running by the tests, now stopped:", file=sys.stderr)
    for pid, command in sorted(left.items()):
        shown = command if len(command) <= 160 else "…" + command[-160:]  # the end names the program
        print(f"  {pid} {shown}", file=sys.stderr)
    stop(list(left))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
