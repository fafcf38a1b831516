"""`hotline push create|list|approve|cancel|run-due` and `hotline scheduler`."""

from __future__ import annotations

import logging
import signal
import threading

import click

from bot import migrate, scheduler
from bot.clock import shown
from bot.config import ConfigError, Settings
from bot.models.pushes import AUDIENCES, PUSH_STATES
from bot.runtime import build_runtime
from bot.services import push_send
from bot.services import pushes as push_service


def _runtime():
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return build_runtime(settings)


@click.group("push")
def push_group() -> None:
    """Pushes of newly disclosed items: queue one, list, approve, cancel, send what is due."""


@push_group.command("create")
@click.option("--item", "slugs", multiple=True, required=True,
              help="knowledge item slug (repeatable)")
@click.option("--at", "when", default="", help='Beijing time "2026-11-26 18:00"; default: now')
@click.option("--account", default="default", show_default=True)
@click.option("--topic", default="", help="send only to subscribers of this category")
@click.option("--text", "as_text", is_flag=True, help="a text message instead of a news article")
@click.option("--approve", is_flag=True, help="approve it too (otherwise staff approve it)")
@click.option("--as", "author", default="cli", show_default=True)
def push_create(slugs: tuple[str, ...], when: str, account: str, topic: str, as_text: bool,
                approve: bool, author: str) -> None:
    """Queue a push of one or more items."""
    runtime = _runtime()
    try:
        if runtime.settings.account(account) is None:
            raise click.ClickException(f"no account named {account!r}")
        with runtime.sessionmaker.begin() as session:
            try:
                push = push_service.create_push(
                    session, account=account, slugs=list(slugs),
                    due_at=push_service.parse_time(when), audience="topic" if topic else "all",
                    topic=topic, msgtype="text" if as_text else "mpnews", by=author)
                if approve:
                    push_service.approve(session, push.id, author)
            except push_service.PushError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(f"推送 {push.id}：{push.title}  {PUSH_STATES[push.state]}  "
                       f"{shown(push.due_at)}")
    finally:
        runtime.close()


@push_group.command("list")
@click.option("--history", "limit", default=20, show_default=True, help="how many past pushes")
def push_list(limit: int) -> None:
    """The queue (waiting, approved, sending) and the latest past pushes."""
    runtime = _runtime()
    try:
        with runtime.sessionmaker() as session:
            click.echo("队列：")
            for push in push_service.queue(session):
                click.echo("  " + _line(push))
            click.echo("历史：")
            for push in push_service.history(session, limit):
                click.echo("  " + _line(push))
    finally:
        runtime.close()


def _line(push) -> str:
    audience = AUDIENCES[push.audience] + (f"（{push.topic}）" if push.topic else "")
    result = f"  msg_id {push.msg_id}" if push.msg_id else ""
    if push.result:
        result += f"  {push.result} 送达 {push.sent_count}/{push.total_count}"
    return (f"{push.id:>5} {PUSH_STATES[push.state]:4} "
            f"{shown(push.due_at)} {audience} {push.title}"
            f"{result}{('  ' + push.note) if push.note else ''}")


@push_group.command("approve")
@click.argument("push_id", type=int)
@click.option("--as", "author", default="cli", show_default=True)
def push_approve(push_id: int, author: str) -> None:
    _change(lambda session: push_service.approve(session, push_id, author))


@push_group.command("cancel")
@click.argument("push_id", type=int)
@click.option("--as", "author", default="cli", show_default=True)
def push_cancel(push_id: int, author: str) -> None:
    _change(lambda session: push_service.cancel(session, push_id, author))


def _change(step) -> None:
    runtime = _runtime()
    try:
        with runtime.sessionmaker.begin() as session:
            try:
                push = step(session)
            except push_service.PushError as exc:
                raise click.ClickException(str(exc)) from exc
            click.echo(_line(push))
    finally:
        runtime.close()


@push_group.command("run-due")
def push_run_due() -> None:
    """Once, what the scheduler does at each look: send every push that is due."""
    runtime = _runtime()
    try:
        reports = push_send.run_due(runtime)
    finally:
        runtime.close()
    for report in reports:
        click.echo(f"推送 {report.push_id}：{report.state} {report.note}".rstrip())
    if not reports:
        click.echo("没有到期的推送")


@click.command("scheduler")
def scheduler_command() -> None:
    """Run the scheduler (pushes, digests, topic tags, case reminders) until stopped."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    runtime = _runtime()
    migrate.upgrade(runtime.settings.database_url)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("调度器运行中（Ctrl-C 停止）")
    try:
        scheduler.run(runtime, stop)
    finally:
        runtime.close()
