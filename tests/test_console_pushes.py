"""The console's push pages: candidates from knowledge edits, pushes created, approved,
cancelled and sent now, the preview through WeChat's preview API, digest schedules, the
history with WeChat's later report; bad input answered in Chinese with nothing written;
viewers read only."""

from __future__ import annotations

import html
import re
import time

import pytest
import requests
from sqlalchemy import func, select

from bot.clock import beijing
from bot.db import utcnow
from bot.models import AuditEntry, Disclosure, Push, PushSchedule
from bot.services import content as content_service
from bot.services import push_content, push_send
from bot.services import staff as staff_service
from bot.services.pushes import next_fire
from bot.simulator.client import SubscriberClient
from content.model import Item
from tests.test_console_access import PASSWORD, csrf, login

SLUG = "industry-subsidy"
TITLE = "产业扶贫补助办法"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>资金公告'


def make_item(runtime, slug=SLUG, title=TITLE, category="policy",
              summary="到户产业补助每户不超过5000元。") -> None:
    with runtime.sessionmaker.begin() as session:
        content_service.save_item(session, Item(
            slug=slug, category=category, title=title, body=f"## {title}\n\n正文。",
            source="省扶贫办 2018年3月", summary=summary))


@pytest.fixture
def office(runtime):
    with runtime.sessionmaker.begin() as session:
        staff_service.create_user(session, "boss", PASSWORD, "supervisor")
        staff_service.create_user(session, "look", PASSWORD, "viewer")
    make_item(runtime)
    make_item(runtime, "fund-notice", "扶贫资金公告", "funding", "2018年资金安排。")
    return runtime


def post(client, path, page="/console/pushes", **data):
    return client.post(path, data={"csrf_token": csrf(client, page), **data})


def candidate_id(runtime, slug=SLUG) -> int:
    with runtime.sessionmaker() as session:
        return session.scalar(select(Disclosure.id).where(Disclosure.slug == slug))


def push_row(runtime, push_id=None) -> Push:
    with runtime.sessionmaker() as session:
        query = select(Push).order_by(Push.id.desc())
        return session.scalars(query.where(Push.id == push_id) if push_id else query).first()


def count(runtime, model) -> int:
    with runtime.sessionmaker() as session:
        return session.scalar(select(func.count()).select_from(model))


def actions(runtime) -> list[str]:
    with runtime.sessionmaker() as session:
        return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def create(client, runtime, **fields) -> Push:
    data = {"account": "default", "due": "", "audience": "all", "topic": "",
            "msgtype": "text", "slugs": "", **fields}
    response = post(client, "/console/pushes/create", **data)
    assert response.status_code == 302, response.get_data(as_text=True)
    return push_row(runtime, int(response.headers["Location"].split("/pushes/")[1]
                                 .split("?")[0]))


def test_an_edit_becomes_a_candidate_pushed_approved_and_cancelled(client, office):
    login(client, "boss")
    slug, item = "county-list", "/console/knowledge/county-list"
    saved = post(client, item, item, text="slug: county-list\ncategory: criteria\n"
                 "title: 贫困县退出名单\nsummary: 今年退出的贫困县。\n"
                 "body: 正文。\nsource: 省政府\n")
    assert saved.status_code == 302
    page = client.get("/console/pushes").get_data(as_text=True)
    assert "贫困县退出名单" in page and f'href="/p/{slug}"' in page and "新增" in page
    push = create(client, office, candidate=str(candidate_id(office, slug)),
                  due="2030-01-02 18:00")
    assert push.state == "draft" and push.slugs == [slug] and push.created_by == "boss"
    assert push.due_at.isoformat() == "2030-01-02T10:00:00"  # Beijing 18:00 is 10:00 UTC
    detail = client.get(f"/console/pushes/{push.id}").get_data(as_text=True)
    assert "2030-01-02 18:00" in detail
    text = re.search(r"<pre[^>]*data-push-text>(.*?)</pre>", detail, re.S).group(1)
    assert html.unescape(text) == push_content.text_of(office, push)  # exactly what goes out
    assert "【新公开】" in text and "今年退出的贫困县" in text and f"/p/{slug}" in text
    queue = client.get("/console/pushes").get_data(as_text=True)
    assert f'name="candidate" value="{candidate_id(office, slug)}"' not in queue
    assert "待审核" in queue
    approved = post(client, f"/console/pushes/{push.id}/approve")
    assert approved.status_code == 302 and push_row(office, push.id).state == "approved"
    again = post(client, f"/console/pushes/{push.id}/approve")
    assert again.status_code == 422 and "只有待审核的推送可以批准" in again.get_data(as_text=True)
    cancelled = post(client, f"/console/pushes/{push.id}/cancel", reason="内容需要再核对")
    assert cancelled.status_code == 302
    row = push_row(office, push.id)
    assert row.state == "cancelled" and "内容需要再核对" in row.note
    with office.sessionmaker() as session:
        assert session.get(Disclosure, candidate_id(office, slug)).state == "pending"
    history = client.get("/console/pushes").get_data(as_text=True)
    assert "已取消" in history and "内容需要再核对" in history
    assert actions(office)[-3:] == ["push_create", "push_approve", "push_cancel"]


def test_send_now_goes_out_and_the_history_shows_wechats_report(client, live, office, account):
    SubscriberClient(live.url, account, "oFollower").say("你好")
    login(client, "boss")
    push = create(client, office, slugs=f"{SLUG}，fund-notice", due="2030-01-02 18:00")
    assert push.slugs == [SLUG, "fund-notice"]
    sent_now = post(client, f"/console/pushes/{push.id}/send-now")
    assert sent_now.status_code == 302
    row = push_row(office, push.id)
    assert row.state == "approved" and row.approved_by == "boss"
    assert push.id in push_send.due_ids(office.sessionmaker, row.due_at)
    assert [r.state for r in push_send.run_due(office)] == ["sent"]  # the scheduler's look
    deadline = time.time() + 5
    while time.time() < deadline and not push_row(office, push.id).result:
        time.sleep(0.05)
    row = push_row(office, push.id)
    assert row.state == "sent" and row.msg_id and row.result == "send success"
    history = client.get("/console/pushes").get_data(as_text=True)
    assert row.msg_id in history and "send success" in history
    assert f"{row.sent_count} / {row.total_count} / {row.error_count}" in history
    late = post(client, f"/console/pushes/{push.id}/cancel", reason="")
    assert late.status_code == 422 and "不能取消" in late.get_data(as_text=True)


def test_the_preview_goes_through_wechats_preview_api(client, live, office):
    login(client, "boss")
    text = create(client, office, slugs=SLUG)
    news = create(client, office, slugs=f"{SLUG} fund-notice", msgtype="mpnews")
    page = f"/console/pushes/{text.id}"
    sent = post(client, f"{page}/preview", page, openid="oStaffPhone")
    assert sent.status_code == 302 and "oStaffPhone" in client.get(
        sent.headers["Location"]).get_data(as_text=True)
    assert 'value="oStaffPhone"' in client.get(f"/console/pushes/{news.id}").get_data(
        as_text=True)  # the form remembers the last openid
    assert post(client, f"/console/pushes/{news.id}/preview", page,
                openid="oStaffPhone").status_code == 302
    calls = requests.get(f"{live.url}/sim/api/_calls", timeout=5,
                         params={"path": "message/mass/preview"}).json()
    assert [c["body"]["touser"] for c in calls] == ["oStaffPhone", "oStaffPhone"]
    assert calls[0]["body"]["text"]["content"] == push_content.text_of(office, text)
    assert calls[1]["body"]["msgtype"] == "mpnews" and calls[1]["errcode"] == 0
    assert push_row(office, news.id).state == "draft"  # a preview sends nothing else
    for openid, said in (("", "请填写接收预览的微信 openid"), ("o bad<x>", "只含字母")):
        refused = post(client, f"/console/pushes/{news.id}/preview", page, openid=openid)
        assert refused.status_code == 422 and said in refused.get_data(as_text=True)
    assert len(requests.get(f"{live.url}/sim/api/_calls", timeout=5,
                            params={"path": "message/mass/preview"}).json()) == 2
    assert actions(office).count("push_preview") == 2


def test_the_detail_page_shows_each_news_article(client, office):
    login(client, "boss")
    push = create(client, office, slugs=f"{SLUG} fund-notice", msgtype="mpnews",
                  audience="topic", topic="funding")
    page = client.get(f"/console/pushes/{push.id}").get_data(as_text=True)
    for article in push_content.articles_of(office, push):
        assert article["title"] in page and article["digest"] in page
        assert f'href="{article["content_source_url"]}"' in page
    assert "订阅该主题的用户：扶贫资金项目信息" in page and "<pre" not in page


@pytest.mark.parametrize("fields, said", [
    ({"due": "明天下午"}, "时间格式不对"), ({"due": "2020-01-01 18:00"}, "推送时间已过"),
    ({"audience": "topic", "topic": ""}, "没有这个主题"), ({"slugs": ""}, "请至少选择一条"),
    ({"slugs": "no-such-item"}, "没有这一条目"), ({"account": "nobody"}, "没有这个公众号"),
    ({"candidate": "abc"}, "勾选的信息有误"), ({"candidate": "99999"}, "已加入其他推送或已处理"),
    ({"msgtype": "video"}, "消息类型不对"),
    ({"slugs": " ".join(f"item-{n}" for n in range(9))}, "一次推送最多 8 条"),
])
def test_bad_push_input_is_answered_in_chinese_and_nothing_is_written(client, office, fields,
                                                                       said):
    login(client, "boss")
    data = {"account": "default", "due": "", "audience": "all", "topic": "",
            "msgtype": "text", "slugs": SLUG, **fields}
    response = post(client, "/console/pushes/create", **data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and said in page and 'role="alert"' in page
    if fields.get("due"):
        assert f'value="{fields["due"]}"' in page  # the form is kept
    assert count(office, Push) == 0 and "push_create" not in actions(office)
    with office.sessionmaker() as session:
        assert {d.state for d in session.scalars(select(Disclosure))} == {"pending"}


def test_no_csrf_no_selection_and_dismissing_candidates(client, office):
    login(client, "boss")
    stale = client.post("/console/pushes/create", data={"slugs": SLUG})
    assert stale.status_code == 422 and "页面已过期" in stale.get_data(as_text=True)
    nothing = post(client, "/console/pushes/dismiss")
    assert nothing.status_code == 422 and "请先勾选" in nothing.get_data(as_text=True)
    dismissed = post(client, "/console/pushes/dismiss", candidate=str(candidate_id(office)))
    assert "已将 1 条标记为不推送" in client.get(dismissed.headers["Location"]).get_data(
        as_text=True)
    with office.sessionmaker() as session:
        states = {d.slug: d.state for d in session.scalars(select(Disclosure))}
    assert states == {SLUG: "dismissed", "fund-notice": "pending"}
    assert count(office, Push) == 0 and actions(office)[-1] == "push_dismiss"


def test_digest_schedules_are_saved_and_a_bad_rule_is_refused(client, office):
    login(client, "boss")
    bad = post(client, "/console/pushes/schedules", account="default", name="工作日摘要",
               cron="every weekday at six", msgtype="mpnews", active="y")
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "定时规则不对" in page and "0 18 * * mon-fri" in page
    assert 'value="every weekday at six"' in page and count(office, PushSchedule) == 0
    nul = post(client, "/console/pushes/schedules", account="default", name="工作日摘要",
               cron="0 18 * * mon-fri\x00", msgtype="mpnews", active="y")
    assert nul.status_code == 400 and "控制字符" in nul.get_data(as_text=True)
    assert count(office, PushSchedule) == 0
    good = post(client, "/console/pushes/schedules", account="default", name="工作日摘要",
                cron="0 18 * * mon-fri", msgtype="mpnews", active="y")
    assert good.status_code == 302
    with office.sessionmaker() as session:
        rule = session.scalars(select(PushSchedule)).one()
    assert rule.active and rule.cron == "0 18 * * mon-fri" and rule.updated_by == "boss"
    listed = client.get("/console/pushes").get_data(as_text=True)
    fire = beijing(next_fire(rule.cron, utcnow()))
    assert "工作日摘要" in listed and f"{fire:%Y-%m-%d} 18:00" in listed
    edit = f"/console/pushes/schedules/{rule.id}"
    refused = post(client, edit, account="default", name="工作日摘要", cron="61 25 * * *",
                   msgtype="mpnews")
    assert refused.status_code == 422 and "定时规则不对" in refused.get_data(as_text=True)
    off = post(client, edit, account="default", name="工作日摘要", cron="30 9 * * *",
               msgtype="text")  # the active box left unticked
    assert off.status_code == 302
    with office.sessionmaker() as session:
        rule = session.get(PushSchedule, rule.id)
    assert (rule.active, rule.cron, rule.msgtype) == (False, "30 9 * * *", "text")
    assert post(client, "/console/pushes/schedules/999", account="default",
                cron="0 18 * * *", msgtype="text").status_code == 422
    assert actions(office).count("push_schedule") == 2


def test_viewers_read_the_pages_but_cannot_act(client, office):
    login(client, "boss")
    push = create(client, office, slugs=SLUG)
    client.delete_cookie("session")
    login(client, "look")
    page = client.get("/console/pushes").get_data(as_text=True)
    assert TITLE in page and "/console/pushes/create" not in page and 'name="candidate"' not in page
    detail = client.get(f"/console/pushes/{push.id}").get_data(as_text=True)
    assert "【新公开】" in detail and "/approve" not in detail and "发送预览" not in detail
    for action in ("approve", "send-now", "cancel", "preview"):
        refused = post(client, f"/console/pushes/{push.id}/{action}", openid="oLook")
        assert refused.status_code == 403
    assert post(client, "/console/pushes/create", slugs=SLUG).status_code == 403
    assert push_row(office, push.id).state == "draft" and count(office, Push) == 1
    assert client.get("/console/pushes/abc").status_code == 404
    assert client.get("/console/pushes/999").status_code == 404


def test_item_titles_are_rendered_inert(client, office):
    make_item(office, "hostile-item", HOSTILE, "funding", HOSTILE)
    login(client, "boss")
    page = client.get("/console/pushes").get_data(as_text=True)
    assert "&lt;script&gt;" in page and "<script>alert" not in page and "<img" not in page
    push = create(client, office, slugs="hostile-item", msgtype="mpnews")
    for path in (f"/console/pushes/{push.id}", "/console/pushes"):
        shown = client.get(path).get_data(as_text=True)
        assert "<script>alert" not in shown and "<img" not in shown and "&lt;img" in shown


def test_a_nul_character_in_any_console_form_is_refused_before_it_reaches_the_database(
        client, office):
    login(client, "boss")
    for path, fields in (("/console/pushes/create", {"slugs": f"{SLUG}\x00", "msgtype": "text"}),
                         ("/console/pushes/schedules", {"cron": "0 18 * * *\x00"})):
        refused = post(client, path, account="default", **fields)
        assert refused.status_code == 400 and "控制字符" in refused.get_data(as_text=True)
    assert count(office, Push) == 0 and count(office, PushSchedule) == 0
