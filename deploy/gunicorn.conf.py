"""gunicorn settings for the web service (see shared/PERFORMANCE.md for the reasons).

Two sync workers per two cores; the app (and with it jieba and the search index) is loaded in
the master before forking and frozen out of the garbage collector, so workers share its pages.
Run `hotline db upgrade` before starting: workers never create tables.
"""

from __future__ import annotations

import gc
import multiprocessing
import os

bind = os.environ.get("HOTLINE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("HOTLINE_WORKERS", multiprocessing.cpu_count()))
worker_class = "sync"
preload_app = True
timeout = 30
graceful_timeout = 20
keepalive = 5
max_requests = 20000
max_requests_jitter = 2000
accesslog = os.environ.get("HOTLINE_ACCESS_LOG") or None
forwarded_allow_ips = os.environ.get("HOTLINE_PROXY_IPS", "127.0.0.1")
wsgi_app = "bot.wsgi:app"


def when_ready(server) -> None:
    gc.freeze()


def post_fork(server, worker) -> None:
    # Each message allocates a few thousand short-lived objects; collecting every 700
    # allocations costs more than it frees here (the frozen master pages are never scanned).
    gc.set_threshold(20000, 20, 20)
