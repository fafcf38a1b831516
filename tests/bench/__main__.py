"""`make bench`: the webhook against WeRoBot 1.13.1, then the search at 1k/10k/100k items.

Webhook: variants under gunicorn with 2 sync workers, driven by wrk on loopback: ours
(signature, dedupe row + message log committed, dispatch of 帮助), ours in safe mode, WeRoBot
default (SQLite sessions on) and WeRoBot bare (sessions off). Rounds alternate the variants;
medians are printed with ratios against WeRoBot measured in the same run.

Search (tests/bench/search.py): answer latency, index build time and size against knowledge
base size, and private memory per gunicorn worker.

Inbox (tests/bench/inbox.py): the console's inbox pages over 1,000,000 cases on SQLite and (with
HOTLINE_TEST_PG_URL) PostgreSQL, p50/p95 against a one-case page. `BENCH_ONLY=webhook|search|inbox`
runs one part.
"""

from __future__ import annotations

import os
import sys

from tests.bench import inbox, search, webhook

if __name__ == "__main__":
    only = os.environ.get("BENCH_ONLY", "")
    status = 0
    if only in ("", "webhook"):
        status |= webhook.main(os.environ.get("BENCH_ROUNDS"))
    if only in ("", "search"):
        status |= search.main()
    if only in ("", "inbox"):
        status |= inbox.main()
    sys.exit(status)
