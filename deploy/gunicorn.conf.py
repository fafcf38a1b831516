"""gunicorn settings for the web service (see shared/PERFORMANCE.md for the reasons).

Two sync workers per two cores; the app (and with it jieba and the search index) is loaded in
the master before forking and frozen out of the garbage collector, so workers share its pages.
Run `hotline db upgrade` before starting: workers never create tables.

Metrics: each process writes its counters to files in HOTLINE_METRICS_DIR (tmpfs by
default; emptied here at start) and `/metrics` sums them, whichever worker answers the
scrape. prometheus_client reads PROMETHEUS_MULTIPROC_DIR when it is imported, so it is set
here, before the app is loaded.
"""

from __future__ import annotations

import gc
import glob
import hashlib
import multiprocessing
import os
import shutil

bind = os.environ.get("HOTLINE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HOTLINE_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 100_000
max_requests_jitter = 10_000
accesslog = os.environ.get("HOTLINE_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("HOTLINE_PROXY_IPS", "127.0.0.1")
wsgi_app = "bot.wsgi:app"


SHM_PREFIX = "/dev/shm/fupin-hotline-metrics-"


def _metrics_directory() -> str:
    """HOTLINE_METRICS_DIR, made and emptied of the last run's files; on a reload (SIGHUP
    re-reads this file) the files are kept. Every request writes to these memory-mapped files,
    so the default is on tmpfs (/dev/shm, one directory per instance path), where no disk
    writeback follows them, or <instance>/metrics where there is no /dev/shm."""
    instance = os.path.abspath(os.environ.get("HOTLINE_INSTANCE_PATH") or "instance")
    path = os.environ.get("HOTLINE_METRICS_DIR")
    if not path and os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        digest = hashlib.blake2b(instance.encode(), digest_size=6).hexdigest()
        path = f"{SHM_PREFIX}{os.getuid()}-{digest}"
    path = os.path.abspath(path or os.path.join(instance, "metrics"))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") != path:
        os.makedirs(path, mode=0o750, exist_ok=True)
        for stale in glob.glob(os.path.join(path, "*.db")):
            os.remove(stale)
    return path


os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_directory()


def _runtime(server):
    """The hotline runtime of the preloaded app (None when serving another app)."""
    return getattr(server.app.wsgi(), "extensions", {}).get("hotline")


def when_ready(server) -> None:
    from bot import db

    runtime = _runtime(server)
    database = db.sqlite_file(runtime.settings.database_url) if runtime else None
    if database is not None:
        server.checkpointer = db.Checkpointer(database)
        server.checkpointer.start()
    gc.freeze()


def post_fork(server, worker) -> None:
    from bot import db

    if getattr(server, "checkpointer", None) is not None:
        # The master checkpoints; a worker does only if the WAL grows past ~80 MB
        # (at 4,000 pages, ~16 MB, its fallback copies ran every half second under load and
        # their stalls were the p99).
        db.SQLITE_AUTOCHECKPOINT = 20_000
    runtime = _runtime(server)
    if runtime is not None:  # connections never cross a fork: the child opens its own
        runtime.engine.dispose(close=False)
    # Each message allocates a few thousand short-lived objects; collecting every 700
    # allocations costs more than it frees here (the frozen master pages are never scanned).
    gc.set_threshold(20000, 20, 20)


def child_exit(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # its counts stay; its live gauges go


def on_exit(server) -> None:
    """A default metrics directory in /dev/shm is memory: removed when gunicorn stops (the
    next start empties it anyway)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if path.startswith(SHM_PREFIX) and not os.environ.get("HOTLINE_METRICS_DIR"):
        shutil.rmtree(path, ignore_errors=True)
