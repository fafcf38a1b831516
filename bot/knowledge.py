"""The search index of one process, rebuilt when the content version in the database changes.

Built once before gunicorn forks (so workers share its pages); afterwards each process checks
the version at most every `check_every` seconds and rebuilds on a change.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from content.schema import load_catalog
from content.search import Index, Tokenizer
from sqlalchemy.orm import sessionmaker

from bot.services import content as content_service

log = logging.getLogger("hotline.knowledge")


class Knowledge:
    def __init__(self, sessions: sessionmaker, check_every: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._sessions = sessions
        self._check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._tokenizer: Tokenizer | None = None
        self._version = -1
        self._checked_at = float("-inf")

    @property
    def version(self) -> int:
        return self._version

    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            catalog = load_catalog()
            self._tokenizer = Tokenizer(catalog.dictionary, catalog.synonyms)
        return self._tokenizer

    def index(self) -> Index:
        """The current index, rebuilt first if the content changed."""
        now = self._clock()
        if self._index is not None and now - self._checked_at < self._check_every:
            return self._index
        with self._lock:
            if self._index is None or now - self._checked_at >= self._check_every:
                self._refresh()
                self._checked_at = now
        return self._index

    def _refresh(self) -> None:
        with self._sessions() as session:
            version = content_service.current_version(session)
            if self._index is not None and version == self._version:
                return
            items = content_service.active_items(session)
        started = time.perf_counter()
        self._index = Index.build(items, self.tokenizer())
        self._version = version
        log.info("search index built: version %s, %d items in %.0f ms", version, len(items),
                 (time.perf_counter() - started) * 1000)

    def warm(self) -> None:
        """Build now (before forking workers)."""
        self._checked_at = float("-inf")
        self.index()
