"""gunicorn settings of every web app:
``gunicorn --config python:plumbing.gunicorn_config '<service>.wsgi:create_app()'``.

Replaces a worker that has grown past ``WEB_WORKER_MAX_RSS_MB`` (150 MB by default; 0: never) once its request
is answered, as uWSGI's reload-on-rss does: a batch of 10,000 lines peaks near 190 MB, and CPython keeps most of
that from the system after it is freed (its small-object arenas stay pinned by a few live objects).

Makes /metrics add up every gunicorn process (prometheus-client's multiprocess mode): each process
writes its metrics to files in PROMETHEUS_MULTIPROC_DIR. Without that variable, a fresh temporary
folder is used. Drops gunicorn's Server banner. Only hooks live here, and one setting: bind, workers
and timeouts stay on the command line.
"""
import importlib
import os
import tempfile
from pathlib import Path

from gunicorn.http import wsgi

# Set before anything imports prometheus_client: it chooses file-backed values at import time.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="clause-metrics-")

# gunicorn writes "Server: gunicorn" on every answer and has no setting for it (benoitc/gunicorn#825): its default headers,
# without that banner (what runs the platform is nobody else's business). Workers are forked from the
# process that reads this file, so they all answer without it.
_default_headers = wsgi.Response.default_headers
wsgi.Response.default_headers = lambda self: [
    line for line in _default_headers(self) if not line.lower().startswith("server:")]

# gunicorn 27's control socket has one default path per user, which the four services of one
# machine would fight over; nothing here uses it (older gunicorn ignores the name).
control_socket_disable = True


def on_starting(server):
    """Start from an empty folder: files of a previous run would be added to this one's counts. Import the app's
    module here, once: each worker forks with it loaded (and shares its memory) instead of importing it again,
    1.3 s of CPU a worker; the app itself, with its connections, is still made by each worker after the fork."""
    folder = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    module = (getattr(server.app, "app_uri", None) or "").partition(":")[0]
    if module:
        importlib.import_module(module)


MAX_RSS_MB = int(os.environ.get("WEB_WORKER_MAX_RSS_MB", "150"))
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def post_request(worker, req, environ, resp):
    """A worker past MAX_RSS_MB finishes this request and exits; the arbiter starts a fresh one at once."""
    if not MAX_RSS_MB:
        return
    try:
        with open("/proc/self/statm") as statm:
            rss_mb = int(statm.read().split()[1]) * _PAGE_MB
    except OSError:  # not Linux
        return
    if rss_mb > MAX_RSS_MB:
        worker.log.info("worker %s at %.0f MB: replaced by a fresh one", worker.pid, rss_mb)
        worker.alive = False


def child_exit(server, worker):
    """A gunicorn process ended: its live gauges no longer count (its counters do)."""
    from prometheus_client import multiprocess
    multiprocess.mark_process_dead(worker.pid)
