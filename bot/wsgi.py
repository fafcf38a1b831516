"""WSGI entry for gunicorn (`bot.wsgi:app`): the app built from the environment, with the
search index (and jieba) built before the workers fork, so they share its pages."""

from __future__ import annotations

import logging

from bot.app import create_app

app = create_app()
try:
    app.extensions["hotline"].knowledge.refresh(force=True)
except Exception:  # noqa: BLE001 - e.g. not migrated yet: each worker builds on first use
    logging.getLogger("hotline").exception("search index not built before forking")
