"""The simulator: a fake WeChat API and a simulated subscriber (development and tests only)."""

from __future__ import annotations

from flask import Flask

from bot.simulator import fakeapi, subscriber


def register(app: Flask) -> None:
    app.register_blueprint(fakeapi.blueprint, url_prefix="/sim/api")
    app.register_blueprint(subscriber.blueprint, url_prefix="/sim")
