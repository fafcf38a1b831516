"""Application factory. Nothing is created at import time."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text

from bot import console, pages, simulator
from bot.config import Settings
from bot.runtime import Runtime, build_runtime
from bot.wechat import webhook

log = logging.getLogger("hotline")


class _SessionsOffTheHotPath(SecureCookieSessionInterface):
    """No session for WeChat's webhook or the fake API: with a secret key set, opening the
    signed-cookie session costs ~25 µs a message (a quarter of the non-database time)."""

    def open_session(self, app: Flask, request):
        if request.path.startswith(("/wechat", "/sim/api/")):
            return self.make_null_session(app)
        return super().open_session(app, request)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    settings = settings or (runtime.settings if runtime else Settings.from_env())
    runtime = runtime or build_runtime(settings)
    settings = runtime.settings
    app = Flask(__name__, instance_path=None)
    app.config.update(SECRET_KEY=settings.secret_key or None, JSON_AS_ASCII=False)
    app.json.ensure_ascii = False
    app.session_interface = _SessionsOffTheHotPath()
    app.extensions["hotline"] = runtime
    app.register_blueprint(webhook.blueprint)
    console.register(app)
    app.register_blueprint(pages.blueprint)
    app.add_url_rule("/healthz", "healthz", _healthz)
    app.add_url_rule("/metrics", "metrics", _metrics)
    if settings.simulator:
        simulator.register(app)
        log.info("simulator on: fake WeChat API at /sim/api/, subscriber at /sim/")
    return app


def _runtime() -> Runtime:
    return current_app.extensions["hotline"]


def _healthz() -> Response:
    try:
        with _runtime().engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        log.warning("healthz: database unreachable: %s", exc)
        return Response("database unreachable\n", status=503, mimetype="text/plain")
    return Response("ok\n", mimetype="text/plain")


def _metrics() -> Response:
    return Response(_runtime().metrics.render(), mimetype="text/plain; version=0.0.4")
