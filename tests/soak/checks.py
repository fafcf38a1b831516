"""The soak's figures and its checks that nothing was lost or doubled."""

from __future__ import annotations

import collections
import statistics
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml
from sqlalchemy import func, select

from bot.models import Case, CaseMessage, InboundMessage, Push
from content.schema import load_catalog
from content.schema_menu import click_keys
from tests.soak.load import Record

EVAL = Path(__file__).resolve().parents[1] / "eval" / "queries.yaml"


def questions() -> list[str]:
    """How people ask: the labelled questions of the answer-quality set."""
    data = yaml.safe_load(EVAL.read_text(encoding="utf-8"))
    entries = data["queries"] if isinstance(data, dict) else data
    return [entry["q"] if isinstance(entry, dict) else str(entry) for entry in entries]


def menu_keys() -> list[str]:
    return click_keys(load_catalog().menu)


@dataclass(frozen=True)
class Report:
    messages: int
    seconds: float
    rate: float
    p50: float
    p99: float
    unanswered: int


def throughput(record: Record, began: float, ended: float) -> Report:
    window = [e for e in record.exchanges if began <= e.started < ended]
    answered = sorted(e.latency for e in window if e.status == 200)
    seconds = ended - began
    if not answered:
        return Report(0, seconds, 0.0, 0.0, 0.0, len(window))
    p99 = answered[min(len(answered) - 1, int(len(answered) * 0.99))]
    return Report(len(answered), seconds, len(answered) / seconds, statistics.median(answered),
                  p99, len(window) - len(answered))


def by_step(record: Record, began: float, ended: float) -> str:
    """p50/p99 by kind of message (first tries answered), to tell where a tail comes from."""
    steps: dict[str, list[float]] = collections.defaultdict(list)
    for e in record.exchanges:
        if began <= e.started < ended and e.status == 200:
            steps[e.step or "?"].append(e.latency)
    parts = []
    for step, times in sorted(steps.items(), key=lambda item: -len(item[1])):
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        parts.append(f"{step} {len(times)}: p50 {statistics.median(times) * 1000:.1f} ms, "
                     f"p99 {p99 * 1000:.1f} ms")
    return "  by kind: " + "; ".join(parts)


def timeline(record: Record, began: float, ended: float, step: float = 5.0) -> str:
    """p99 by stretch of `step` seconds (by when the message was first sent): a tail from a
    stall, the start or a fault shows where it was."""
    stretches: dict[int, list[float]] = collections.defaultdict(list)
    for e in record.exchanges:
        if began <= e.started < ended and e.status == 200:
            stretches[int((e.started - began) // step)].append(e.latency)
    parts = []
    for index in sorted(stretches):
        times = sorted(stretches[index])
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        parts.append(f"{index * step:g}s {p99 * 1000:.0f}")
    return f"  p99 (ms) by {step:g} s: " + ", ".join(parts)


def describe(phase: str, report: Report) -> str:
    return (f"{phase}: {report.messages} answered in {report.seconds:.0f} s = "
            f"{report.rate:.0f} messages/s; p50 {report.p50 * 1000:.1f} ms, "
            f"p99 {report.p99 * 1000:.1f} ms; not answered {report.unanswered}")


def verify(world, record: Record) -> list[str]:
    problems = []
    problems += _every_message_answered_and_logged_once(world, record)
    problems += _retries_got_the_first_answer(record)
    problems += _every_case_once(world, record)
    problems += _replies_delivered_once(world)
    problems += _pushes_sent_once(world)
    problems += _subscriptions_tagged(world, record)
    return problems


def _every_message_answered_and_logged_once(world, record: Record) -> list[str]:
    problems = []
    lost = [e for e in record.exchanges if e.status != 200]
    if lost:
        problems.append(f"{len(lost)} messages never answered (e.g. {lost[0].errors})")
    statuses = collections.Counter(err for e in record.exchanges for err in e.errors)
    if any(code.startswith("5") and code != "503" for code in statuses):
        problems.append(f"server errors other than 503: {dict(statuses)}")
    texts = {f"m:{e.key}" for e in record.exchanges if not e.key.startswith("e:")}
    events = {e.key for e in record.exchanges if e.key.startswith("e:")}
    with world.runtime.sessionmaker() as session:
        logged = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.openid.like("oSoak%"), InboundMessage.msg_key.like("m:%")))
        logged_events = session.scalar(select(func.count()).select_from(InboundMessage).where(
            InboundMessage.openid.like("oSoak%"), InboundMessage.msg_key.like("e:%")))
    if logged != len(texts):
        problems.append(f"{len(texts)} distinct messages sent, {logged} logged")
    if logged_events != len(events):
        problems.append(f"{len(events)} distinct events sent, {logged_events} logged")
    print(f"  messages: {len(record.exchanges)} sent ({len(texts)} distinct texts, "
          f"{len(events)} events), {sum(e.tries - 1 for e in record.exchanges)} resent after "
          f"an error {dict(statuses)}", flush=True)
    return problems


def _retries_got_the_first_answer(record: Record) -> list[str]:
    first: dict[str, str] = {}
    problems, checked = [], 0
    for exchange in record.exchanges:
        if exchange.status != 200:
            continue
        if not exchange.retry_of:
            first.setdefault(exchange.key, exchange.text)
        elif exchange.retry_of == "after" or exchange.kind == "text":
            checked += 1
            if exchange.key in first and exchange.text != first[exchange.key]:
                problems.append(f"retry of {exchange.key} answered differently")
    print(f"  retries: {checked} compared with the first answer", flush=True)
    return problems[:5]


def _every_case_once(world, record: Record) -> list[str]:
    problems = []
    with world.runtime.sessionmaker() as session:
        rows = session.execute(select(Case.openid, Case.number).where(
            Case.openid.like("oSoakcase%"))).all()
    by_openid = collections.defaultdict(list)
    for openid, number in rows:
        by_openid[openid].append(number)
    doubled = [o for o, numbers in by_openid.items() if len(numbers) > 1]
    if doubled:
        problems.append(f"{len(doubled)} subscribers got more than one case, e.g. {doubled[0]}")
    missing = [o for o, number in record.cases.items() if number and by_openid.get(o) != [number]]
    if missing:
        problems.append(f"{len(missing)} confirmed case numbers not in the database")
    print(f"  cases: {sum(1 for n in record.cases.values() if n)} confirmed intakes, "
          f"{len(rows)} cases", flush=True)
    return problems


def _calls(world, path: str) -> list[dict]:
    """The fake API's record of `path`, all of it (pages of 1,000)."""
    found, since = [], 0
    while True:
        page = requests.get(f"{world.url}/sim/api/_calls", params={
            "path": path, "since": since, "limit": 1000}, timeout=10).json()
        found += page
        if len(page) < 1000:
            return found
        since = page[-1]["id"]


def _replies_delivered_once(world) -> list[str]:
    calls = _calls(world, "message/custom/send")
    sent = collections.Counter(c["body"]["text"]["content"] for c in calls
                               if c["errcode"] == 0 and "已转相关处室核实" in str(c["body"]))
    problems = [f"reply delivered {n} times: {t[:40]}" for t, n in sent.items() if n > 1][:5]
    with world.runtime.sessionmaker() as session:
        states = collections.Counter(session.scalars(select(CaseMessage.delivery).where(
            CaseMessage.id.in_(world.replies))).all()) if world.replies else {}
        uncertain = session.scalar(select(func.count()).select_from(CaseMessage).where(
            CaseMessage.delivery == "failed", CaseMessage.delivery_error.like("-2:%")))
    for state in ("pending", "sending"):
        if states.get(state):
            problems.append(f"{states[state]} staff replies still {state} after the drain")
    other_failed = states.get("failed", 0) - (uncertain or 0)
    if other_failed:
        problems.append(f"{other_failed} staff replies failed for another reason")
    print(f"  staff replies: {len(world.replies)} written, states {dict(states)}; "
          f"{uncertain} not resent after a timed-out answer (may have arrived)", flush=True)
    return problems


def _pushes_sent_once(world) -> list[str]:
    calls = _calls(world, "message/mass/sendall")
    delivered = collections.Counter(c["body"].get("clientmsgid") for c in calls
                                     if c["errcode"] == 0)
    with world.runtime.sessionmaker() as session:
        pushes = session.execute(select(Push.clientmsgid, Push.state, Push.note)).all()
    problems = [f"push {c} broadcast {n} times" for c, n in delivered.items() if n > 1]
    for clientmsgid, state, note in pushes:
        if state not in ("sent", "cancelled"):
            problems.append(f"push {clientmsgid} ended {state}: {note}")
        elif state == "sent" and delivered.get(clientmsgid) != 1:
            problems.append(f"push {clientmsgid} recorded sent, broadcast "
                            f"{delivered.get(clientmsgid, 0)} times")
    print(f"  pushes: {len(pushes)}, states {collections.Counter(s for _, s, _ in pushes)}",
          flush=True)
    return problems


def _subscriptions_tagged(world, record: Record) -> list[str]:
    """Every 订阅 the load saw confirmed is a subscription row, and WeChat tagged it (the
    scheduler's sync, in batches of 50)."""
    rows = world.topic_rows()
    subscribed = {openid for openid, active, _ in rows if active}
    untagged = [openid for openid, active, tagged in rows if active != tagged]
    batches = [len(c["body"]["openid_list"]) for c in _calls(world, "tags/members/batchtagging")
               if c["errcode"] == 0]
    print(f"  topics: {len(record.subscribed)} subscribed, {len(rows)} rows, "
          f"{sum(batches)} tagged in {len(batches)} calls", flush=True)
    problems = []
    if missing := record.subscribed - subscribed:
        problems.append(f"{len(missing)} confirmed subscriptions have no row")
    if untagged:
        problems.append(f"{len(untagged)} subscriptions never reached WeChat")
    return problems
