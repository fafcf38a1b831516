"""Application factory. Nothing is created at import time."""

from __future__ import annotations

import logging
import time

import redis
from flask import Flask, Response, current_app
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from bot import console, pages, simulator
from bot.clock import today
from bot.config import Settings
from bot.metrics import CONTENT_TYPE, Metrics
from bot.proxy import TrustedProxy
from bot.runtime import Runtime, build_runtime
from bot.services.case_metrics import case_counts
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
    app.wsgi_app = _RequestMetrics(app.wsgi_app, runtime.metrics)
    app.wsgi_app = TrustedProxy(app.wsgi_app, settings.trusted_proxies)
    if settings.simulator:
        simulator.register(app)
        log.info("simulator on: fake WeChat API at /sim/api/, subscriber at /sim/")
    return app


def _runtime() -> Runtime:
    return current_app.extensions["hotline"]


def _healthz() -> Response:
    """200 when the database (and Redis, when configured) answer; 503 and which one not."""
    runtime, problems = _runtime(), []
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not healthy"
        log.warning("healthz: database unreachable: %s", type(exc).__name__)
        problems.append("database unreachable")
    if runtime.settings.redis_url:
        try:
            client = redis.Redis.from_url(runtime.settings.redis_url, socket_timeout=1,
                                          socket_connect_timeout=1)
            client.ping()
            client.close()
        except redis.RedisError as exc:
            log.warning("healthz: redis unreachable: %s", type(exc).__name__)
            problems.append("redis unreachable")
    if problems:
        return Response("\n".join(problems) + "\n", status=503, mimetype="text/plain")
    return Response("ok\n", mimetype="text/plain")


class _RequestMetrics:
    """Counts and times every request by route: the URL rule (`/wechat/<name>`), never the raw
    path, so no openid or slug becomes a label; a request no rule matched is "unmatched".
    A WSGI wrapper reading werkzeug's request from the environ: no Flask context lookups,
    which cost microseconds each on the webhook's path."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    def __call__(self, environ, start_response):
        started, seen = time.perf_counter(), []

        def keep_status(status: str, headers, exc_info=None):
            # Flask calls this while its request is still in the environ (it drops it after)
            seen.append((status, getattr(environ.get("werkzeug.request"), "url_rule", None)))
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, keep_status)
        finally:
            status, rule = seen[-1] if seen else ("500", None)
            self.metrics.observe_request(
                "unmatched" if rule is None else rule.rule, environ.get("REQUEST_METHOD", ""),
                int(status[:3]), time.perf_counter() - started)


def _metrics() -> Response:
    """Prometheus text. The case figures are read now; a database that fails leaves them
    out (and is counted) rather than failing the scrape."""
    runtime = _runtime()
    try:
        with runtime.sessionmaker() as session:
            cases, overdue = case_counts(session, today())
    except SQLAlchemyError as exc:
        log.warning("metrics: case figures unavailable: %s", type(exc).__name__)
        runtime.metrics.incr("metrics_errors", source="cases")
        cases, overdue = None, None
    return Response(runtime.metrics.render(cases, overdue), content_type=CONTENT_TYPE)
