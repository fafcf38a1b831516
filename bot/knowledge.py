"""This process's search index over the knowledge base, rebuilt when the content changes.

The database is the truth at run time: `hotline content load` (and later the console) bump
the content version, and each process checks it at most every `check_every` seconds, from
`refresh()`, which the webhook calls before it claims a message (never inside a transaction,
so @quick handlers read the index without touching the database). Under gunicorn the index
is built in the master before the workers fork (bot/wsgi.py), so they share its pages.

The domain dictionary and the synonyms come from content/data (they are reviewed files, not
edited at run time).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bot.services import content as content_service
from content.model import Fact, Item
from content.schema import load_lexicon
from content.search import Index, Tokenizer

log = logging.getLogger("hotline.knowledge")


class Knowledge:
    def __init__(self, engine: Engine, check_every: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._check_every = check_every
        self._clock = clock
        self._lock = threading.Lock()
        self._index: Index | None = None
        self._tokenizer: Tokenizer | None = None
        self._version = -1
        self._checked_at = float("-inf")
        self._menu: tuple[Index, dict[str, Item]] | None = None

    @property
    def version(self) -> int:
        return self._version

    def tokenizer(self) -> Tokenizer:
        if self._tokenizer is None:
            dictionary, synonyms = load_lexicon()
            self._tokenizer = Tokenizer(dictionary, synonyms)
        return self._tokenizer

    def index(self) -> Index:
        """The current index (built now if this process has none yet)."""
        if self._index is None:
            self.refresh(force=True)
        return self._index

    def lookup(self, doc_id: str) -> tuple[Item, Fact | None] | None:
        """The item (and fact) of a search hit's doc id ("slug" or "slug#fact")."""
        try:
            return self.index().lookup(doc_id)
        except (KeyError, StopIteration):
            return None

    def by_menu_key(self, key: str) -> Item | None:
        """The item that answers a CLICK menu key."""
        index = self.index()
        if self._menu is None or self._menu[0] is not index:
            self._menu = (index, {item.menu_key: item for item in index.items.values()
                                  if item.menu_key})
        return self._menu[1].get(key)

    def refresh(self, force: bool = False) -> None:
        """Rebuild if the content version changed; checks at most every `check_every` s."""
        now = self._clock()
        if not force and self._index is not None and now - self._checked_at < self._check_every:
            return
        with self._lock:
            if not force and self._index is not None and now - self._checked_at < self._check_every:
                return
            self._checked_at = now
            try:
                self._rebuild_if_changed()
            except Exception:  # noqa: BLE001 - keep answering from the index we have
                if self._index is None:
                    raise
                log.exception("content version check failed; keeping version %s",
                              self._version)

    def _rebuild_if_changed(self) -> None:
        with Session(self._engine) as session:
            version = content_service.current_version(session)
            if self._index is not None and version == self._version:
                return
            items = content_service.active_items(session)
        started = time.perf_counter()
        self._index = Index.build(items, self.tokenizer())
        self._version = version
        log.info("search index built: content version %s, %d items in %.0f ms", version,
                 len(items), (time.perf_counter() - started) * 1000)
