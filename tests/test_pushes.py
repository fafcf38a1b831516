"""Pushes of newly disclosed items against the fake WeChat API over real HTTP: candidates
from knowledge edits, approval, news and text broadcasts with a fixed clientmsgid, quotas,
retries, a crash between the call and the record, digests, topics, the JOBFINISH report."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest
import requests
from click.testing import CliRunner
from sqlalchemy import select, update

from bot.cli import cli
from bot.clock import beijing
from bot.db import utcnow
from bot.models import Disclosure, Push, TopicSubscription
from bot.services import content as content_service
from bot.services import push_schedules, push_send
from bot.services import pushes as push_service
from content.schema import load_catalog

CATALOG = load_catalog()
SLUG = "criteria-household-standard"
OTHER = "criteria-poverty-village"


@pytest.fixture
def loaded(runtime):
    with runtime.sessionmaker.begin() as session:
        content_service.load(session, CATALOG.items)
    return runtime


def edit(runtime, slug: str, title_suffix: str = "（修订）") -> None:
    item = next(i for i in CATALOG.items if i.slug == slug)
    with runtime.sessionmaker.begin() as session:
        changed = dataclasses.replace(item, title=item.title + title_suffix)
        content_service.save_item(session, changed)


def make_push(runtime, slugs=(SLUG,), approve=True, **options) -> int:
    with runtime.sessionmaker.begin() as session:
        push = push_service.create_push(session, account="default", slugs=list(slugs),
                                        due_at=options.pop("due_at", utcnow()), by="张", **options)
        if approve:
            push_service.approve(session, push.id, "李")
        return push.id


def push_row(runtime, push_id: int) -> Push:
    with runtime.sessionmaker() as session:
        return session.get(Push, push_id)


def api_calls(live, path: str) -> list[dict]:
    return requests.get(f"{live.url}/sim/api/_calls", params={"path": path}, timeout=5).json()


def fault(live, path: str, **values) -> None:
    requests.post(f"{live.url}/sim/api/_faults", json={"path": path, **values},
                  timeout=5).raise_for_status()


def with_account_type(runtime, kind: str) -> None:
    accounts = tuple(dataclasses.replace(a, type=kind) for a in runtime.settings.accounts)
    runtime.settings = runtime.settings.with_overrides(accounts=accounts)
    runtime._apis.clear()


# -- candidates -----------------------------------------------------------------------------
def test_the_first_import_is_no_news_but_an_edit_is_a_candidate(loaded):
    with loaded.sessionmaker() as session:
        assert push_service.candidates(session) == []
    edit(loaded, SLUG)
    edit(loaded, SLUG, "（再次修订）")  # still one candidate, at the latest revision
    with loaded.sessionmaker() as session:
        [candidate] = push_service.candidates(session)
    assert (candidate.slug, candidate.change, candidate.revision) == (SLUG, "changed", 3)
    assert candidate.title.endswith("（再次修订）")
    with loaded.sessionmaker.begin() as session:
        content_service.archive_item(session, SLUG)
    with loaded.sessionmaker() as session:
        assert push_service.candidates(session) == []


def test_a_reload_with_a_changed_item_makes_a_candidate(loaded):
    items = [dataclasses.replace(i, summary=i.summary + "（更新）") if i.slug == OTHER else i
             for i in CATALOG.items]
    with loaded.sessionmaker.begin() as session:
        content_service.load(session, items)
    with loaded.sessionmaker() as session:
        assert [c.slug for c in push_service.candidates(session)] == [OTHER]


# -- sending ---------------------------------------------------------------------------------
def test_an_approved_news_push_goes_out_once_and_its_report_fills_the_history(loaded, live):
    edit(loaded, SLUG)
    push_id = make_push(loaded)
    with loaded.sessionmaker() as session:
        assert session.scalars(select(Disclosure.state)).one() == "queued"
    [report] = push_send.run_due(loaded)
    assert report.state == "sent", report
    push = push_row(loaded, push_id)
    assert push.state == "sent" and push.msg_id and push.media_id
    [draft] = api_calls(live, "draft/add")
    article = draft["body"]["articles"][0]
    assert article["content_source_url"].endswith(f"/p/{SLUG}") and article["thumb_media_id"]
    [sent] = api_calls(live, "message/mass/sendall")
    assert sent["body"]["clientmsgid"] == push.clientmsgid
    assert sent["body"]["mpnews"]["media_id"] == push.media_id
    assert push_send.run_due(loaded) == []  # nothing due any more
    deadline = time.time() + 5
    while push_row(loaded, push_id).result == "" and time.time() < deadline:
        time.sleep(0.1)
    push = push_row(loaded, push_id)
    assert push.result == "send success" and push.total_count == push.sent_count == 0
    with loaded.sessionmaker() as session:
        assert session.scalars(select(Disclosure.state)).one() == "sent"


def test_a_text_push_carries_the_summaries_and_links(loaded, live):
    push_id = make_push(loaded, slugs=(SLUG, OTHER), msgtype="text")
    assert push_send.run_due(loaded)[0].state == "sent"
    [sent] = api_calls(live, "message/mass/sendall")
    text = sent["body"]["text"]["content"]
    assert text.startswith("【新公开信息 2 条】") and f"/p/{SLUG}" in text and f"/p/{OTHER}" in text
    assert push_row(loaded, push_id).msgtype == "text"


def test_a_draft_is_not_sent_and_a_cancelled_push_frees_its_candidates(loaded, live):
    edit(loaded, SLUG)
    push_id = make_push(loaded, approve=False)
    assert push_send.run_due(loaded) == []
    with loaded.sessionmaker.begin() as session:
        push_service.cancel(session, push_id, "李", "内容有误")
    assert push_row(loaded, push_id).note == "李 取消：内容有误"
    with loaded.sessionmaker() as session:
        assert [c.state for c in push_service.candidates(session)] == ["pending"]
    assert api_calls(live, "message/mass/sendall") == []


def test_a_crash_after_the_call_is_recorded_not_sent_twice(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    push = push_row(loaded, push_id)
    api = loaded.api("default")  # the scheduler's call went out, then the process died
    first = api.mass_send_text("【新公开】…", None, push.clientmsgid)
    with loaded.sessionmaker.begin() as session:
        session.execute(update(Push).where(Push.id == push_id).values(
            state="sending", attempts=1, lease_until=utcnow() - dt.timedelta(seconds=1)))
    [report] = push_send.run_due(loaded)
    push = push_row(loaded, push_id)
    assert report.state == "sent" and push.msg_id == str(first["msg_id"])
    assert "未重复发送" in push.note
    delivered = [c for c in api_calls(live, "message/mass/sendall") if c["errcode"] == 0]
    assert len(delivered) == 1


def test_a_held_lease_keeps_a_second_sender_off(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    with loaded.sessionmaker.begin() as session:
        session.execute(update(Push).where(Push.id == push_id).values(
            state="sending", lease_until=utcnow() + dt.timedelta(minutes=1)))
    assert push_send.run_due(loaded) == []
    assert push_send.send(loaded, push_id).state == "skipped"
    assert api_calls(live, "message/mass/sendall") == []


def test_timeouts_and_5xx_are_retried_with_backoff_then_sent_once(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    fault(live, "message/mass/sendall", http_status=502, count=1)
    [report] = push_send.run_due(loaded)
    push = push_row(loaded, push_id)
    assert report.state == "retry" and push.state == "approved" and push.due_at > utcnow()
    assert "第 1 次发送未成功" in push.note
    [report] = push_send.run_due(loaded, now=push.due_at + dt.timedelta(seconds=1))
    assert report.state == "sent"
    assert len([c for c in api_calls(live, "message/mass/sendall") if c["errcode"] == 0]) == 1


def test_a_refusal_that_retrying_cannot_fix_fails_with_the_reason(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    fault(live, "message/mass/sendall", errcode=48001, count=1)
    [report] = push_send.run_due(loaded)
    push = push_row(loaded, push_id)
    assert report.state == "failed" and push.state == "failed" and "48001" in push.note


def test_a_subscription_account_broadcasts_once_a_day(loaded, live):
    with_account_type(loaded, "subscription")
    first, second = make_push(loaded, msgtype="text"), make_push(loaded, (OTHER,), msgtype="text")
    reports = {r.push_id: r for r in push_send.run_due(loaded)}
    assert reports[first].state == "sent" and reports[second].state == "deferred"
    push = push_row(loaded, second)
    assert push.state == "approved" and "今天的群发次数已用完" in push.note
    assert push.due_at > utcnow() + dt.timedelta(hours=1)
    assert len(api_calls(live, "message/mass/sendall")) == 1  # the second never reached WeChat


def test_wechats_quota_refusal_defers_the_push(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    fault(live, "message/mass/sendall", errcode=45028, count=1)
    [report] = push_send.run_due(loaded)
    push = push_row(loaded, push_id)
    assert report.state == "deferred" and push.state == "approved"
    assert "微信回复群发次数已用完" in push.note


def test_a_push_missed_by_hours_waits_for_staff(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    late = utcnow() + dt.timedelta(hours=7)
    [report] = push_send.run_due(loaded, now=late)
    push = push_row(loaded, push_id)
    assert report.state == "held" and push.state == "draft" and "超过 6 小时" in push.note
    assert api_calls(live, "message/mass/sendall") == []


def test_a_topic_push_goes_to_the_topic_tag_or_not_at_all(loaded, live):
    push_id = make_push(loaded, msgtype="text", audience="topic", topic="criteria")
    [report] = push_send.run_due(loaded)
    assert report.state == "cancelled" and "还没有用户订阅" in push_row(loaded, push_id).note
    with loaded.sessionmaker.begin() as session:
        session.add(TopicSubscription(account="default", openid="oTopic1", topic="criteria",
                                      active=True, tagged=False, created_at=utcnow(),
                                      updated_at=utcnow()))
    push_id = make_push(loaded, msgtype="text", audience="topic", topic="criteria")
    assert push_send.run_due(loaded)[0].state == "sent"
    [sent] = api_calls(live, "message/mass/sendall")
    assert sent["body"]["filter"]["is_to_all"] is False
    assert isinstance(sent["body"]["filter"]["tag_id"], int)


def test_preview_sends_the_push_to_one_staff_member(loaded, live):
    push_id = make_push(loaded, approve=False)
    assert push_send.preview(loaded, push_id, "oStaffPreview") == ""
    [call] = api_calls(live, "message/mass/preview")
    assert call["body"]["touser"] == "oStaffPreview" and call["body"]["mpnews"]["media_id"]
    assert push_send.preview(loaded, push_id, " ") == "请填写接收预览的微信 openid"
    assert push_row(loaded, push_id).state == "draft"


# -- bad requests ----------------------------------------------------------------------------
@pytest.mark.parametrize("options, message", [
    ({"slugs": []}, "请至少选择一条"),
    ({"slugs": ["no-such-item"]}, "没有这一条目"),
    ({"slugs": [SLUG] * 1 + [f"x{i}" for i in range(8)]}, "最多 8 条"),
    ({"audience": "topic", "topic": "nonsense"}, "没有这个主题"),
    ({"msgtype": "video"}, "消息类型不对"),
])
def test_bad_push_requests_are_refused_in_chinese_and_write_nothing(loaded, options, message):
    values = {"account": "default", "slugs": [SLUG], "due_at": utcnow(), **options}
    with pytest.raises(push_service.PushError, match=message), \
            loaded.sessionmaker.begin() as session:
        push_service.create_push(session, **values)
    with loaded.sessionmaker() as session:
        assert session.scalars(select(Push)).all() == []


def test_times_are_beijing_and_checked():
    now = dt.datetime(2026, 11, 25, 12, 0)
    assert push_service.parse_time("2026-11-26 18:00", now) == dt.datetime(2026, 11, 26, 10, 0)
    assert push_service.parse_time("", now) == now
    for bad in ("明天", "2026-13-01 10:00", "2026-11-25 08:00"):
        with pytest.raises(push_service.PushError):
            push_service.parse_time(bad, now)


def test_state_changes_that_make_no_sense_are_refused(loaded, live):
    push_id = make_push(loaded, msgtype="text")
    push_send.run_due(loaded)
    with loaded.sessionmaker.begin() as session:
        for step in (push_service.approve, push_service.cancel, push_service.send_now):
            with pytest.raises(push_service.PushError, match="已发送"):
                step(session, push_id, "李")
        with pytest.raises(push_service.PushError, match="没有编号为 999"):
            push_service.approve(session, 999, "李")


# -- digests ---------------------------------------------------------------------------------
def test_a_digest_gathers_candidates_waits_for_approval_and_rolls_on(loaded, live):
    with loaded.sessionmaker.begin() as session:
        with pytest.raises(push_service.PushError, match="定时规则不对"):
            push_schedules.save_schedule(session, account="default", cron="every day", by="李")
        schedule = push_schedules.save_schedule(session, account="default",
                                                cron="0 18 * * mon-fri", by="李")
    edit(loaded, SLUG)
    edit(loaded, OTHER)
    with loaded.sessionmaker.begin() as session:
        [digest] = push_schedules.prepare_digests(session)
        digest_id, due = digest.id, digest.due_at
    push = push_row(loaded, digest_id)
    assert push.kind == "digest" and push.slugs == [SLUG, OTHER] and push.state == "draft"
    assert beijing(due).hour == 18 and beijing(due).weekday() < 5
    later = due + dt.timedelta(minutes=1)  # not approved in time: not sent, moved on
    with loaded.sessionmaker.begin() as session:
        push_schedules.prepare_digests(session, now=later)
    push = push_row(loaded, digest_id)
    assert push.due_at > later and "尚未审核，未发送" in push.note
    with loaded.sessionmaker.begin() as session:
        push_service.approve(session, digest_id, "李")
    assert push_send.run_due(loaded, now=push.due_at + dt.timedelta(seconds=1))[0].state == "sent"
    with loaded.sessionmaker.begin() as session:  # the next digest opens, empty
        [following] = push_schedules.prepare_digests(session, now=push.due_at)
        assert following.id != digest_id and following.slugs == []
    assert schedule.id


# -- the command line ------------------------------------------------------------------------
def test_push_commands(loaded, live, monkeypatch, settings):
    database = settings.database_url
    for name, value in {"HOTLINE_ENV": "test", "HOTLINE_DATABASE_URL": database,
                        "HOTLINE_INSTANCE_PATH": settings.instance_path,
                        "WECHAT_TOKEN": "test-token", "WECHAT_APPID": "wxtestappid0001",
                        "WECHAT_SECRET": "test-secret", "HOTLINE_SIMULATOR": "1",
                        "HOTLINE_PUBLIC_URL": live.url,
                        "WECHAT_API_BASE": f"{live.url}/sim/api/",
                        "HOTLINE_SECRET_KEY": "test-secret-key-0123456789"}.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    made = runner.invoke(cli, ["push", "create", "--item", SLUG, "--text", "--approve"])
    assert made.exit_code == 0, made.output
    assert "已批准" in made.output
    bad = runner.invoke(cli, ["push", "create", "--item", "nope"])
    assert bad.exit_code != 0 and "没有这一条目" in bad.output
    listed = runner.invoke(cli, ["push", "list"])
    assert "队列" in listed.output and SLUG not in listed.output  # titles, not slugs
    ran = runner.invoke(cli, ["push", "run-due"])
    assert ran.exit_code == 0 and "sent" in ran.output, ran.output
    assert "没有到期的推送" in runner.invoke(cli, ["push", "run-due"]).output


def test_a_broadcast_whose_answer_timed_out_is_resent_safely(loaded, live):
    loaded.settings = loaded.settings.with_overrides(api_timeout=0.5)
    loaded._apis.clear()
    loaded.api("default").token()
    push_id = make_push(loaded, msgtype="text")
    fault(live, "message/mass/sendall", delay=1.5, count=1)  # WeChat sends, we hear nothing
    [report] = push_send.run_due(loaded)
    assert report.state == "retry"
    time.sleep(1.5)
    later = push_row(loaded, push_id).due_at + dt.timedelta(seconds=1)
    [report] = push_send.run_due(loaded, now=later)
    assert report.state == "sent" and "未重复发送" in push_row(loaded, push_id).note
    assert len([c for c in api_calls(live, "message/mass/sendall") if c["errcode"] == 0]) == 1


def test_a_digest_missed_while_the_scheduler_was_down_goes_once(loaded, live):
    with loaded.sessionmaker.begin() as session:
        push_schedules.save_schedule(session, account="default", cron="0 18 * * *", by="李")
    edit(loaded, SLUG)
    with loaded.sessionmaker.begin() as session:
        [digest] = push_schedules.prepare_digests(session)
        push_service.approve(session, digest.id, "李")
        digest_id, due = digest.id, digest.due_at
    back = due + dt.timedelta(days=2, hours=1)  # down over three 18:00s, back within the grace
    back_soon = due + dt.timedelta(hours=1)
    with loaded.sessionmaker.begin() as session:
        push_schedules.prepare_digests(session, now=back_soon)
    reports = push_send.run_due(loaded, now=back_soon)
    assert [r.state for r in reports] == ["sent"]
    with loaded.sessionmaker.begin() as session:
        [following] = push_schedules.prepare_digests(session, now=back)
        assert following.id != digest_id and following.due_at > back  # no catching up
    assert push_send.run_due(loaded, now=back) == []
    assert len(api_calls(live, "message/mass/sendall")) == 1
