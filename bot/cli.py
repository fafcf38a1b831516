"""The `hotline` command."""

from __future__ import annotations

import logging
import os
import sys

import click
from flask.cli import FlaskGroup

from bot import migrate
from bot.app import create_app
from bot.config import ConfigError, Settings


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


def _app_factory():
    return create_app(_settings())


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=False,
             add_version_option=False, load_dotenv=False)
def cli() -> None:
    """扶贫热线 (Fupin Hotline): WeChat webhook, staff console, simulator and scheduler."""
    logging.basicConfig(level=os.environ.get("HOTLINE_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@cli.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the webhook, console and (in development) the simulator."""
    os.environ.setdefault("HOTLINE_PUBLIC_URL", f"http://{_display(host)}:{port}")
    settings = _settings()
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    base = settings.public_url
    click.echo(f"扶贫热线 serving on http://{_display(host)}:{port}")
    for account in settings.accounts:
        click.echo(f"  webhook ({account.name}): {base}{account.webhook_path}")
    if settings.simulator:
        click.echo(f"  模拟用户 (simulated subscriber): {base}/sim/   <- open this")
        click.echo(f"  fake WeChat API: {base}/sim/api/  (calls: {base}/sim/api/_calls)")
    click.echo(f"  health: {base}/healthz")
    from werkzeug.serving import run_simple

    run_simple(host, port, app, threaded=True, use_reloader=False)


def _display(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "") else host


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade", with_appcontext=False)
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the database to the latest schema."""
    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at {_safe_url(settings.database_url)} is at {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cli.command(with_appcontext=False)
def routes() -> None:
    """List the bot's rules in the order the router applies them."""
    from bot.runtime import build_router

    click.echo(build_router().describe())


def main() -> None:  # pragma: no cover - console entry for `python -m bot.cli`
    sys.exit(cli())
