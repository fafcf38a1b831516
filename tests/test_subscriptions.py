"""Topic subscriptions through the real webhook and the fake WeChat API over HTTP: 订阅/退订
and their spoken variants, 我的订阅, unknown topics, the tag at WeChat (created once, raced,
deleted behind our back), faults left for the next sync, batches of 50, and the search not
taking the command. WeChat is told by the scheduler's sync (`tick` here), never by the
webhook."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import select

from bot.app import create_app
from bot.migrate import upgrade
from bot.models import InboundMessage, TopicSubscription, TopicTag
from bot.runtime import build_runtime
from bot.services import topics
from bot.simulator.client import SubscriberClient
from tests.conftest import LiveServer

ON_BOTH_DATABASES = True  # tests/conftest.py: each test on SQLite and PostgreSQL

POLICY_TAG = "订阅-扶贫政策法规"


def phone(live, account, openid: str = "oTopic") -> SubscriberClient:
    return SubscriberClient(live.url, account, openid)


def calls(live, path: str) -> list[dict]:
    return requests.get(f"{live.url}/sim/api/_calls", params={"path": path},
                        timeout=5).json()


def fault(live, **spec) -> None:
    requests.post(f"{live.url}/sim/api/_faults", json=spec, timeout=5).raise_for_status()


def faults_left(live) -> list[dict]:
    return requests.get(f"{live.url}/sim/api/_faults", timeout=5).json()


def wechat_tags(runtime) -> dict[str, dict]:
    """The account's tags as the fake WeChat knows them, by name."""
    return {tag["name"]: tag for tag in runtime.api("default").get_tags()["tags"]}


def tag_ids_of(runtime, openid: str) -> list[int]:
    return runtime.api("default").post("tags/getidlist", {"openid": openid})["tagid_list"]


def rows(runtime, openid: str | None = None) -> list[TopicSubscription]:
    query = select(TopicSubscription).order_by(TopicSubscription.id)
    if openid is not None:
        query = query.where(TopicSubscription.openid == openid)
    with runtime.sessionmaker() as session:
        return list(session.scalars(query))


def synced(runtime, openid: str) -> bool:
    found = rows(runtime, openid)
    return bool(found) and all(row.active == row.tagged for row in found)


def tick(runtime) -> int:
    """What the scheduler's tick does for topics: tell WeChat what changed."""
    return topics.sync(runtime)


def policy_tag(runtime) -> int:
    return wechat_tags(runtime)[POLICY_TAG]["id"]


# -- subscribing and unsubscribing -------------------------------------------------------
def test_subscribe_tags_the_subscriber_and_unsubscribe_untags(live, runtime, account):
    sub = phone(live, account)
    reply = sub.say("订阅 政策").text
    assert "已订阅“扶贫政策法规”" in reply
    assert "您现在会收到这些主题的新内容推送：“扶贫政策法规”" in reply
    assert not calls(live, "tags/members/batchtagging")  # the webhook never calls WeChat
    assert tick(runtime) == 1 and synced(runtime, "oTopic")
    tag_id = policy_tag(runtime)
    assert tag_ids_of(runtime, "oTopic") == [tag_id]
    with runtime.sessionmaker() as session:
        assert topics.topics_of(session, "default", "oTopic") == ["policy"]
        assert topics.subscriber_count(session, "default", "policy") == 1
        assert session.scalars(select(TopicTag.tag_id)).all() == [tag_id]

    reply = sub.say("退订 政策").text
    assert "已退订“扶贫政策法规”" in reply and "您现在没有订阅任何主题" in reply
    assert tick(runtime) == 1 and not tag_ids_of(runtime, "oTopic")
    assert synced(runtime, "oTopic")
    [row] = rows(runtime, "oTopic")
    assert not row.active and not row.tagged
    with runtime.sessionmaker() as session:
        assert topics.subscriber_count(session, "default", "policy") == 0
    assert "已订阅“扶贫政策法规”" in sub.say("订阅 政策").text  # and back again
    assert tick(runtime) == 1 and tag_ids_of(runtime, "oTopic") == [tag_id]
    assert len(calls(live, "tags/create")) == 1  # the tag was made once


def test_repeats_change_nothing_and_call_wechat_once(live, runtime, account):
    sub = phone(live, account)
    sub.say("订阅 政策")
    tick(runtime)
    again = sub.say("订阅 政策").text
    assert "您之前已经订阅了，不用重复订阅" in again and "已订阅“" not in again
    assert tick(runtime) == 0
    sub.say("退订 政策")
    tick(runtime)
    assert not tag_ids_of(runtime, "oTopic")
    assert "您没有订阅“扶贫政策法规”" in sub.say("退订 政策").text
    assert tick(runtime) == 0
    assert len(calls(live, "tags/members/batchtagging")) == 1
    assert len(calls(live, "tags/members/batchuntagging")) == 1
    assert len(rows(runtime, "oTopic")) == 1


@pytest.mark.parametrize("text", [
    "订阅政策", "订阅：政策", "订阅:政策", "我想订阅政策", "訂閱 政策", "请帮我订阅扶贫政策法规",
    "订阅“政策”", "订阅 政策方面的内容", "订阅 政策！"])
def test_spoken_variants_subscribe(live, runtime, account, text):
    reply = phone(live, account).say(text).text
    assert "已订阅“扶贫政策法规”" in reply, reply
    assert [row.topic for row in rows(runtime, "oTopic")] == ["policy"]


@pytest.mark.parametrize("text", ["退订政策", "取消订阅 政策", "取消訂閱：政策", "我要退订政策"])
def test_spoken_variants_unsubscribe(live, runtime, account, text):
    sub = phone(live, account)
    sub.say("订阅 政策")
    reply = sub.say(text).text
    assert "已退订“扶贫政策法规”" in reply, reply
    assert not rows(runtime, "oTopic")[0].active


def test_two_topics_two_tags(live, runtime, account):
    sub = phone(live, account)
    sub.say("订阅 政策")
    reply = sub.say("订阅 年报").text
    assert "已订阅“年度报告”" in reply and "“扶贫政策法规”、“年度报告”" in reply
    assert tick(runtime) == 2 and len(tag_ids_of(runtime, "oTopic")) == 2
    tags = wechat_tags(runtime)
    assert {POLICY_TAG, "订阅-年度报告"} <= set(tags)
    assert sorted(tag_ids_of(runtime, "oTopic")) == sorted(
        [tags[POLICY_TAG]["id"], tags["订阅-年度报告"]["id"]])
    reply = sub.say("退订 政策").text
    assert "您现在会收到这些主题的新内容推送：“年度报告”" in reply
    assert tick(runtime) == 1
    assert tag_ids_of(runtime, "oTopic") == [tags["订阅-年度报告"]["id"]]


def test_several_topics_in_one_message_and_all(live, runtime, account):
    sub = phone(live, account, "oMany")
    reply = sub.say("订阅 政策、资金 认定").text
    assert "已订阅“扶贫政策法规”、“扶贫资金项目信息”、“贫困村贫困户认定标准及申报程序”" in reply
    assert "已订阅" in sub.say("订阅全部").text
    with runtime.sessionmaker() as session:
        assert topics.topics_of(session, "default", "oMany") == list(topics.TOPICS)
    assert tick(runtime) == 5 and len(tag_ids_of(runtime, "oMany")) == 5
    sub.say("退订 建议")
    reply = sub.say("退订 全部").text
    assert "已退订“扶贫政策法规”、" in reply and "您现在没有订阅任何主题" in reply
    assert "建议提案" not in reply and "您没有订阅" not in reply  # only what changed
    assert tick(runtime) == 5 and not tag_ids_of(runtime, "oMany")


# -- lists, unknown topics, other messages ---------------------------------------------
def test_my_subscriptions_marks_the_current_ones(live, runtime, account):
    sub = phone(live, account)
    empty = sub.say("我的订阅").text
    assert "可以订阅的主题" in empty and "（已订阅）" not in empty
    assert "您现在没有订阅任何主题" in empty and "订阅 政策" in empty
    sub.say("订阅 资金")
    listed = sub.say("我的订阅").text
    assert "· 资金：扶贫资金项目信息（已订阅）" in listed
    assert "· 政策：扶贫政策法规\n" in listed and "常见问题" not in listed
    assert sub.say("订阅").text == listed  # the bare command lists too
    assert sub.say("退订").text == listed


@pytest.mark.parametrize("text, shown", [("订阅 天气", "“天气”"), ("订阅 常见问题", "“常见问题”"),
                                         ("退订 政策 天气", "“天气”")])
def test_an_unknown_topic_is_said_and_the_topics_listed(live, runtime, account, text, shown):
    reply = phone(live, account).say(text).text
    assert f"没有{shown}这个主题" in reply
    assert "· 报告：年度报告" in reply and "订阅 政策" in reply
    assert rows(runtime) == []


def test_the_search_never_takes_the_command(live, runtime, account):
    sub = phone(live, account)
    sub.say("订阅 政策")
    questions = ["订阅号怎么关注", "订阅政策要钱吗", "订阅人数", "订阅人数是多少"]
    for question in questions:  # not commands: the search (or its none-reply) answers
        sub.say(question)
    with runtime.sessionmaker() as session:
        logged = dict(session.execute(select(InboundMessage.content, InboundMessage.rule)).all())
    assert logged["订阅 政策"] == "subscriptions:regex"
    for question in questions:
        assert not logged[question].startswith("subscriptions"), question
    assert [row.topic for row in rows(runtime)] == ["policy"]


def test_help_mentions_the_commands(live, account):
    help_text = phone(live, account).say("帮助").text
    assert "订阅 政策 / 退订 政策" in help_text and "我的订阅" in help_text


# -- WeChat failing, slow, or changed behind our back ---------------------------------
def test_a_slow_wechat_does_not_delay_the_reply(live, runtime, account):
    fault(live, path="tags/create", delay=2.0)
    started = time.monotonic()
    reply = phone(live, account).say("订阅 政策").text
    assert "已订阅" in reply and time.monotonic() - started < 1.5
    assert tick(runtime) == 1 and synced(runtime, "oTopic")


def test_a_burst_of_subscriptions_costs_one_call_per_fifty(live, runtime, account):
    """After a broadcast many subscribe at once: the scheduler tags them 50 to a call."""
    for n in range(60):
        assert "已订阅" in phone(live, account, f"oBurst{n:02d}").say("订阅 资金").text
    assert tick(runtime) == 60
    assert batch_sizes(live, "tags/members/batchtagging") == [50, 10]
    assert all(synced(runtime, f"oBurst{n:02d}") for n in range(60))


@pytest.mark.parametrize("spec", [
    {"path": "tags/members/batchtagging", "errcode": 45009},
    {"path": "tags/create", "http_status": 503},
])
def test_a_failure_leaves_the_row_for_the_next_sync(live, runtime, account, spec):
    fault(live, **spec, count=1)
    assert "已订阅" in phone(live, account).say("订阅 政策").text
    assert tick(runtime) == 0  # failed: logged, nothing marked
    assert not faults_left(live)
    assert [c for c in calls(live, spec["path"]) if c["errcode"] or c["status"] >= 400]
    [row] = rows(runtime, "oTopic")
    assert row.active and not row.tagged
    assert topics.sync(runtime) == 1
    assert synced(runtime, "oTopic")
    assert tag_ids_of(runtime, "oTopic") == [policy_tag(runtime)]
    assert topics.sync(runtime) == 0  # nothing left


def test_a_tag_deleted_at_wechat_is_made_again(live, runtime, account):
    sub = phone(live, account, "oFirst")
    sub.say("订阅 政策")
    assert tick(runtime) == 1
    old = policy_tag(runtime)
    runtime.api("default").post("tags/delete", {"tag": {"id": old}})
    phone(live, account, "oSecond").say("订阅 政策")
    assert tick(runtime) == 0  # tagging with the old id: 45159, the tag forgotten
    assert [c for c in calls(live, "tags/members/batchtagging") if c["errcode"] == 45159]
    assert topics.sync(runtime) == 2  # a new tag, carried by both again
    new = policy_tag(runtime)
    assert new != old
    assert tag_ids_of(runtime, "oFirst") == [new] == tag_ids_of(runtime, "oSecond")


def test_an_existing_tag_name_is_looked_up(live, runtime):
    made = runtime.api("default").create_tag(POLICY_TAG)["tag"]["id"]
    assert topics.tag_for(runtime, "default", "policy") == made
    assert topics.tag_for(runtime, "default", "policy") == made  # now from the database
    assert len(calls(live, "tags/get")) == 1


def test_two_processes_creating_the_tag_agree(live, runtime):
    barrier = threading.Barrier(4)
    found: list[int] = []

    def create() -> None:
        barrier.wait()
        found.append(topics.tag_for(runtime, "default", "funding"))

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(found) == 4 and len(set(found)) == 1
    assert wechat_tags(runtime)["订阅-扶贫资金项目信息"]["id"] == found[0]
    with runtime.sessionmaker() as session:
        assert session.scalars(select(TopicTag.tag_id)).all() == [found[0]]


# -- many subscribers ------------------------------------------------------------------
def subscribe_many(runtime, openids: list[str], topic: str = "policy", on: bool = True) -> None:
    change = topics.subscribe if on else topics.unsubscribe
    with runtime.sessionmaker.begin() as session:
        for openid in openids:
            change(session, "default", openid, topic)


def batch_sizes(live, path: str) -> list[int]:
    return [len(c["body"]["openid_list"]) for c in calls(live, path) if c["errcode"] == 0]


def test_many_subscribers_are_synced_in_batches_of_fifty(live, runtime):
    openids = [f"oBatch{n:03d}" for n in range(120)]
    subscribe_many(runtime, openids)
    assert topics.sync(runtime, limit=70) == 70  # at most `limit` rows a run
    assert topics.sync(runtime) == 50
    assert batch_sizes(live, "tags/members/batchtagging") == [50, 20, 50]
    assert wechat_tags(runtime)[POLICY_TAG]["count"] == 120
    with runtime.sessionmaker() as session:
        assert topics.subscriber_count(session, "default", "policy") == 120
    subscribe_many(runtime, openids[:60], on=False)
    assert topics.sync(runtime, account="default") == 60
    assert batch_sizes(live, "tags/members/batchuntagging") == [50, 10]
    assert wechat_tags(runtime)[POLICY_TAG]["count"] == 60
    assert topics.sync(runtime) == 0


def test_services_refuse_what_is_not_a_topic(runtime):
    with runtime.sessionmaker() as session, pytest.raises(ValueError):
        topics.subscribe(session, "default", "oX", "faq")
    assert topics.resolve("資金") == "funding" and topics.resolve("faq") is None
    assert all(len(topics.tag_name(topic)) <= 30 for topic in topics.TOPICS)


@pytest.mark.pg
def test_subscriptions_on_postgresql(settings, pg_database_url, account):
    upgrade(pg_database_url)
    runtime = build_runtime(settings.with_overrides(database_url=pg_database_url))
    server = LiveServer(create_app(runtime=runtime))
    runtime.settings = runtime.settings.with_overrides(api_base=f"{server.url}/sim/api/")
    try:
        sub = SubscriberClient(server.url, account, "oPg")
        assert "已订阅“扶贫政策法规”" in sub.say("订阅 政策").text
        assert "不用重复订阅" in sub.say("订阅 政策").text
        assert topics.sync(runtime) == 1 and synced(runtime, "oPg")
        subscribe_many(runtime, [f"oPg{n:03d}" for n in range(60)])
        subscribe_many(runtime, [f"oPg{n:03d}" for n in range(60)])  # repeats: no errors
        assert topics.sync(runtime) == 60
        assert wechat_tags(runtime)[POLICY_TAG]["count"] == 61
        assert "已退订" in sub.say("退订 政策").text
        assert topics.sync(runtime) == 1 and synced(runtime, "oPg")
        assert wechat_tags(runtime)[POLICY_TAG]["count"] == 60
    finally:
        server.stop()
        runtime.close()
