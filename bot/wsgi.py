"""WSGI entry for gunicorn (`bot.wsgi:app`): the app built from the environment, with the
search index warmed before workers fork."""

from __future__ import annotations

from bot.app import create_app

app = create_app()
