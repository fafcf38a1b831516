"""The `hotline` command."""

from __future__ import annotations

import logging
import os
import sys
import threading
from pathlib import Path

import click
import requests
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import select
from sqlalchemy.engine import make_url
from werkzeug.serving import run_simple

from bot import migrate, scheduler
from bot.app import create_app
from bot.cli_push import push_group, scheduler_command
from bot.clock import shown
from bot.config import ConfigError, Settings
from bot.models import Case
from bot.models.staff import ROLES
from bot.runtime import build_router, build_runtime
from bot.services import case_flow, delivery, report_text, report_xlsx
from bot.services import cases as case_service
from bot.services import content as content_service
from bot.services import report as report_service
from bot.services import staff as staff_service
from bot.simulator import fakeapi
from bot.simulator.client import SimReply, SubscriberClient
from bot.wechat.api import WeChatAPIError
from content import schema
from content.schema_menu import click_keys


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


cli.add_command(push_group)
cli.add_command(scheduler_command)


@cli.command(with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the webhook, console and (in development) the simulator."""
    os.environ.setdefault("HOTLINE_PUBLIC_URL", f"http://{_display(host)}:{port}")
    settings = _settings()
    migrate.upgrade(settings.database_url)
    app = create_app(settings)
    app.extensions["hotline"].knowledge.refresh(force=True)  # the first answer is not slow
    base = settings.public_url
    click.echo(f"扶贫热线 serving on http://{_display(host)}:{port}")
    for account in settings.accounts:
        click.echo(f"  webhook ({account.name}): {base}{account.webhook_path}")
    if settings.simulator:
        click.echo(f"  模拟用户 (simulated subscriber): {base}/sim/   <- open this")
        click.echo(f"  fake WeChat API: {base}/sim/api/  (calls: {base}/sim/api/_calls)")
    click.echo(f"  工作台 (staff console): {base}/console/  "
               "(first account: .venv/bin/hotline user add NAME --role admin)")
    click.echo(f"  health: {base}/healthz")
    stop = threading.Event()
    if not settings.production:  # the embedded default: the scheduler runs in this process
        threading.Thread(target=scheduler.run, args=(app.extensions["hotline"], stop),
                         name="scheduler", daemon=True).start()
        click.echo("  调度器 (scheduler): in this process (production: hotline scheduler)")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        stop.set()


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
    return make_url(url).render_as_string(hide_password=True)


@cli.command(with_appcontext=False)
def routes() -> None:
    """List the bot's rules in the order the router applies them."""
    click.echo(build_router().describe())


def main() -> None:  # pragma: no cover - console entry for `python -m bot.cli`
    sys.exit(cli())


@cli.group()
def sim() -> None:
    """The simulator: fake WeChat API and simulated subscriber."""


@sim.command("say", with_appcontext=False)
@click.argument("text", required=False, default="")
@click.option("--openid", default="sim-user-1", show_default=True)
@click.option("--aes", is_flag=True, help="Send in safe mode (needs the account's AES key).")
@click.option("--url", "base_url", default=None, help="Server address (HOTLINE_PUBLIC_URL).")
@click.option("--account", "account_name", default="default", show_default=True)
@click.option("--event", type=click.Choice(["subscribe", "unsubscribe", "click"]), default=None)
@click.option("--key", default="", help="EventKey for --event click.")
def sim_say(text: str, openid: str, aes: bool, base_url: str | None, account_name: str,
            event: str | None, key: str) -> None:
    """Send TEXT (or an event) to the webhook as a subscriber and print the reply."""
    settings = _settings()
    account = settings.account(account_name)
    if account is None:
        raise click.ClickException(f"no account named {account_name!r}")
    if not text and not event:
        raise click.ClickException("say something: TEXT or --event")
    if event == "click" and not key:
        raise click.ClickException("--event click needs --key (the menu button's key)")
    try:
        client = SubscriberClient(base_url or settings.public_url, account, openid, aes=aes)
        reply = client.event(event.upper() if event == "click" else event, key) if event \
            else client.say(text)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    except requests.RequestException as exc:
        raise click.ClickException(f"cannot reach the webhook at {client.url}: {exc}") from exc
    if reply.kind == "error":
        raise click.ClickException(f"webhook answered {reply.status}: {reply.text}")
    click.echo(_reply_text(reply))


def _reply_text(reply: SimReply) -> str:
    if reply.kind == "text":
        return reply.text
    if reply.kind == "news":
        article = reply.article
        return f"[图文] {article['Title']}\n{article['Description']}\n{article['Url']}"
    if reply.kind == "success":
        return "(success: no reply)"
    return f"({reply.kind} reply)\n{reply.reply_xml}"


@sim.command("api", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
def sim_api(host: str, port: int) -> None:
    """Serve the fake WeChat API on its own (at /sim/api/)."""
    settings = _settings()
    migrate.upgrade(settings.database_url)
    app = Flask("hotline-sim-api")
    app.extensions["hotline"] = build_runtime(settings)
    app.register_blueprint(fakeapi.blueprint, url_prefix="/sim/api")
    click.echo(f"fake WeChat API on http://{_display(host)}:{port}/sim/api/")
    run_simple(host, port, app, threaded=True, use_reloader=False)


@cli.group()
def content() -> None:
    """The knowledge base: check and load content/data."""


@content.command("check", with_appcontext=False)
@click.option("--path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=schema.DATA_DIR, show_default=True)
def content_check(path: Path) -> None:
    """Validate the data files; every problem is printed as file:line: message."""
    problems = schema.check(path)
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        raise click.ClickException(f"{len(problems)} problem(s) in {path}")
    catalog = schema.load_catalog(path)
    click.echo(f"ok: {len(catalog.items)} items, "
               f"{sum(len(item.facts) for item in catalog.items)} facts")


@content.command("load", with_appcontext=False)
@click.option("--path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=schema.DATA_DIR, show_default=True)
def content_load(path: Path) -> None:
    """Upsert the items by slug, archive the ones that left the files, bump the version."""
    try:
        catalog = schema.load_catalog(path)
    except schema.ContentError as error:
        raise click.ClickException(f"nothing loaded:\n{error}") from error
    settings = _settings()
    runtime = build_runtime(settings)
    try:
        with runtime.sessionmaker.begin() as session:
            report = content_service.load(session, catalog.items)
    finally:
        runtime.close()
    click.echo(f"loaded: {len(report.created)} new, {len(report.updated)} changed, "
               f"{len(report.archived)} archived, {report.unchanged} unchanged; "
               f"content version {report.version}")


@cli.group()
def menu() -> None:
    """The custom menu (content/data/menu.yaml)."""


@menu.command("push", with_appcontext=False)
@click.option("--account", "account_name", default="default", show_default=True)
@click.option("--path", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=schema.DATA_DIR, show_default=True)
def menu_push(account_name: str, path: Path) -> None:
    """Validate the menu and send it to WeChat (menu/create); each CLICK key must have an
    answer in the loaded content (run `hotline content load` first)."""
    try:
        catalog = schema.load_catalog(path)
    except schema.ContentError as error:
        raise click.ClickException(f"menu not pushed:\n{error}") from error
    settings = _settings()
    runtime = build_runtime(settings)
    try:
        if settings.account(account_name) is None:
            raise click.ClickException(f"no account named {account_name!r}")
        missing = [key for key in click_keys(catalog.menu)
                   if key not in schema.RESERVED_MENU_KEYS
                   and runtime.knowledge.by_menu_key(key) is None]
        if missing:
            raise click.ClickException(
                f"menu not pushed: no loaded item answers {', '.join(missing)} "
                "(run `hotline content load`)")
        try:
            runtime.api(account_name).create_menu(catalog.menu)
        except WeChatAPIError as exc:
            raise click.ClickException(f"WeChat refused the menu: {exc}") from exc
        except requests.RequestException as exc:
            raise click.ClickException(f"WeChat API unreachable: {exc}") from exc
    finally:
        runtime.close()
    buttons = catalog.menu["button"]
    click.echo(f"menu pushed to {account_name}: {len(buttons)} buttons, "
               f"{len(click_keys(catalog.menu))} click keys")


@cli.group("case")
def case_group() -> None:
    """Cases from the shell (until the console): show one, reply to it."""


@case_group.command("show", with_appcontext=False)
@click.argument("number")
def case_show(number: str) -> None:
    """A case's state, deadline, history and every reply with its delivery state."""
    runtime = build_runtime(_settings())
    try:
        with runtime.sessionmaker() as session:
            case = session.scalars(select(Case).where(Case.number == number.strip())).first()
            if case is None:
                raise click.ClickException(f"no case numbered {number}")
            click.echo(f"{case.number}  {case.case_class}  {case.state}  "
                       f"期限 {case.deadline:%Y-%m-%d}{'  超期' if case.overdue else ''}"
                       f"{'  保密' if case.confidential else ''}")
            click.echo(f"内容：{case.description}")
            for event in case_service.history(session, case):
                click.echo(f"  {shown(event.at)}  {event.actor:16} {event.action:18} "
                           f"{event.from_state}→{event.to_state}  {event.text}")
            for reply in case_service.replies(session, case):
                state = {"sent": "已送达", "pending": "待送达", "sending": "发送中",
                         "failed": "发送失败"}.get(reply.delivery, reply.delivery)
                click.echo(f"  答复 {shown(reply.at)} [{state}] {reply.content}"
                           + (f"  ({reply.delivery_error})" if reply.delivery_error else ""))
    finally:
        runtime.close()


@case_group.command("reply", with_appcontext=False)
@click.argument("number")
@click.argument("text")
@click.option("--as", "author", required=True, help="who answers (recorded as staff:NAME)")
def case_reply(number: str, text: str, author: str) -> None:
    """Answer a case and try to deliver the answer now."""
    runtime = build_runtime(_settings())
    try:
        with runtime.sessionmaker.begin() as session:
            case = session.scalars(select(Case).where(Case.number == number.strip())).first()
            if case is None:
                raise click.ClickException(f"no case numbered {number}")
            try:
                message_id = delivery.add_reply(session, case, text, f"staff:{author}").id
            except (ValueError, case_flow.IllegalTransition) as exc:
                raise click.ClickException(str(exc)) from exc
        outcome = delivery.deliver(runtime, message_id)
    finally:
        runtime.close()
    click.echo({"sent": "已送达", "pending": f"待送达（{outcome.error}）：用户下次发消息时送达",
                "failed": f"发送失败：{outcome.error}"}[outcome.delivery])


@cli.group()
def user() -> None:
    """Staff accounts of the console."""


@user.command("add", with_appcontext=False)
@click.argument("username")
@click.option("--role", type=click.Choice(sorted(ROLES)), required=True,
              help="admin 管理员, supervisor 督办, handler 承办人, viewer 只读")
@click.option("--department", default="", help="the department (required for handlers)")
@click.option("--name", "display_name", default="", help="the name shown in the console")
def user_add(username: str, role: str, department: str, display_name: str) -> None:
    """Create a staff account; the password comes from a prompt, or from
    HOTLINE_USER_PASSWORD for scripts."""
    password = os.environ.get("HOTLINE_USER_PASSWORD") or click.prompt(
        "password", hide_input=True, confirmation_prompt=True)
    settings = _settings()
    migrate.upgrade(settings.database_url)
    runtime = build_runtime(settings)
    try:
        with runtime.sessionmaker.begin() as session:
            staff_service.create_user(session, username, password, role,
                                      department=department, display_name=display_name,
                                      actor="cli")
    except staff_service.StaffError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        runtime.close()
    click.echo(f"created {username} ({ROLES[role]})")


@cli.group()
def report() -> None:
    """The annual government-information-disclosure report."""


@report.command("annual", with_appcontext=False)
@click.option("--year", type=click.IntRange(report_service.YEAR_MIN, report_service.YEAR_MAX),
              required=True)
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, writable=True,
                                                     path_type=Path),
              help="Also write the report as an XLSX workbook to this file.")
def report_annual(year: int, xlsx_path: Path | None) -> None:
    """The annual disclosure report: Table 3 (requests received and handled, with the check
    一 + 二 = 三（七） + 四), Table 4 (reviews and lawsuits), the narrative figures and the
    knowledge items disclosed; exits 1 when Table 3 does not balance."""
    runtime = build_runtime(_settings())
    try:
        with runtime.sessionmaker() as session:
            annual = report_service.annual(session, year)
    finally:
        runtime.close()
    for line in report_text.text_lines(annual):
        click.echo(line)
    if xlsx_path is not None:
        try:
            xlsx_path.write_bytes(report_xlsx.workbook(annual))
        except OSError as exc:
            raise click.ClickException(f"cannot write {xlsx_path}: {exc}") from exc
        click.echo(f"workbook written to {xlsx_path}")
    if not annual.table3.balanced:
        raise SystemExit(1)
