"""Topic subscriptions: a subscriber picks knowledge categories and gets only those pushes.

A topic is a key of content.model.CATEGORIES (not "faq"). At WeChat each topic is a user tag
of the account, so a push to a topic is one mass send to its tag. A TopicSubscription row
keeps what the subscriber asked for (`active`) apart from what WeChat was last told
(`tagged`): the webhook only writes the wish, and `sync` (started after the reply, and
periodically by the scheduler) tags and untags until the two agree. WeChat's user-tag API:
https://developers.weixin.qq.com/doc/offiaccount/User_Management/User_Tag_Management.html
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterator, Sequence
from itertools import groupby

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import TopicSubscription, TopicTag
from bot.services.upsert import insert_for
from content.model import CATEGORIES
from content.normalize import to_simplified

log = logging.getLogger("hotline.topics")

T = TopicSubscription.__table__
TOPICS = tuple(key for key in CATEGORIES if key != "faq")
SHORT_NAMES = {"policy": "政策", "criteria": "认定", "funding": "资金", "proposal": "建议",
               "report": "报告"}
TOPIC_NAMES: dict[str, str] = {
    "政策": "policy", "政策法规": "policy", "扶贫政策": "policy",
    "认定": "criteria", "标准": "criteria", "认定标准": "criteria", "申报": "criteria",
    "申报程序": "criteria",
    "资金": "funding", "项目": "funding", "资金项目": "funding",
    "建议": "proposal", "提案": "proposal", "建议提案": "proposal",
    "报告": "report", "年报": "report", "年度报告": "report",
    **{CATEGORIES[key]: key for key in TOPICS},
}
TAG_PREFIX = "订阅-"
TAG_NAME_LIMIT = 30  # characters (WeChat: 45158 beyond)
BATCH = 50  # openids per batchtagging / batchuntagging call (WeChat: 40032 beyond)
TAG_EXISTS = 45157
TAG_GONE = 45159  # the tag was deleted at WeChat (in the admin page, say)
# Words around a topic's name in "关于政策方面的内容", "资金类推送" …, dropped in this order.
_FILLERS = ("推送", "消息", "内容", "信息", "的", "方面", "类", "栏目")
_QUOTES = " \t\"'“”‘’「」『』《》【】()（）<>"


class TagUnavailable(RuntimeError):
    """WeChat's answers about a topic's tag do not add up (the errcode is -1)."""

    errcode = -1


def resolve(text: str) -> str | None:
    """The topic a person means by `text` ("政策", "扶贫政策法规", "資金" …), or None."""
    word = to_simplified(unicodedata.normalize("NFKC", text or "")).lower().strip(_QUOTES)
    word = "".join(word.split())
    if word in TOPICS:
        return word
    if word in TOPIC_NAMES:
        return TOPIC_NAMES[word]
    core = word.removeprefix("关于")
    for filler in _FILLERS:
        core = core.removesuffix(filler)
    return TOPIC_NAMES.get(core)


def label(topic: str) -> str:
    return CATEGORIES[topic]


def tag_name(topic: str) -> str:
    return (TAG_PREFIX + CATEGORIES[topic])[:TAG_NAME_LIMIT]


def _check(topic: str) -> None:
    if topic not in TOPICS:
        raise ValueError(f"unknown topic {topic!r} (one of {', '.join(TOPICS)})")


def _row(account: str, openid: str, topic: str):
    return (T.c.account == account) & (T.c.openid == openid) & (T.c.topic == topic)


# -- what subscribers ask for (a Session first; the caller commits) --------------------
def subscribe(session: Session, account: str, openid: str, topic: str) -> bool:
    """Subscribe `openid` to `topic`; True when that changed anything. Safe against a
    second message racing this one: the unique row decides."""
    _check(topic)
    now = utcnow()
    inserted = session.execute(
        insert_for(session, T).values(account=account, openid=openid, topic=topic, active=True,
                                      tagged=False, created_at=now, updated_at=now)
        .on_conflict_do_nothing(index_elements=["account", "openid", "topic"])
        .returning(T.c.id)).first()  # rowcount is -1 here on PostgreSQL (psycopg)
    if inserted is not None:
        return True
    return bool(session.execute(update(T).where(_row(account, openid, topic), T.c.active.is_(False))
                                .values(active=True, updated_at=now)).rowcount)


def unsubscribe(session: Session, account: str, openid: str, topic: str) -> bool:
    """Unsubscribe `openid` from `topic`; True when they had it."""
    _check(topic)
    return bool(session.execute(update(T).where(_row(account, openid, topic), T.c.active.is_(True))
                                .values(active=False, updated_at=utcnow())).rowcount)


def topics_of(session: Session, account: str, openid: str) -> list[str]:
    """The subscriber's topics, in CATEGORIES order."""
    found = set(session.scalars(select(T.c.topic).where(
        T.c.account == account, T.c.openid == openid, T.c.active.is_(True))))
    return [topic for topic in TOPICS if topic in found]


def subscriber_count(session: Session, account: str, topic: str) -> int:
    """How many subscribers asked for `topic` (whether or not WeChat knows yet)."""
    return session.scalar(select(func.count()).select_from(T).where(
        T.c.account == account, T.c.topic == topic, T.c.active.is_(True))) or 0


# -- the WeChat side (the runtime first) -----------------------------------------------
def tag_for(runtime, account: str, topic: str) -> int:
    """The WeChat tag id of `topic` in `account`, creating the tag the first time.

    Raises the API's error (it has an `errcode`) when WeChat refuses, TagUnavailable when
    its answers do not add up. Two processes creating it at once get the same tag: WeChat
    refuses the second name (45157, looked up instead), and the unique row decides."""
    _check(topic)
    with runtime.sessionmaker() as session:
        stored = session.scalar(select(TopicTag.tag_id).where(
            TopicTag.account == account, TopicTag.topic == topic))
    if stored is not None:
        return stored
    api = runtime.api(account)
    name = tag_name(topic)
    try:
        created = api.create_tag(name)
    except Exception as exc:
        if getattr(exc, "errcode", None) != TAG_EXISTS:
            raise
        tag_id = _existing_tag(api, name)
    else:
        tag_id = _created_id(created)
    log.info("tag %s of %s is %s", topic, account, tag_id)
    return _store_tag(runtime, account, topic, tag_id)


def _created_id(answer: dict) -> int:
    tag = answer.get("tag")
    if not isinstance(tag, dict) or not isinstance(tag.get("id"), int):
        raise TagUnavailable(f"tags/create answered without a tag id: {answer!r}"[:200])
    return tag["id"]


def _existing_tag(api, name: str) -> int:
    for tag in api.get_tags().get("tags") or []:
        if isinstance(tag, dict) and tag.get("name") == name and isinstance(tag.get("id"), int):
            return tag["id"]
    raise TagUnavailable(f"tag {name!r} exists (45157) but tags/get does not list it")


def _store_tag(runtime, account: str, topic: str, tag_id: int) -> int:
    """Keep `tag_id` unless another process stored one first; the stored one wins."""
    table = TopicTag.__table__
    with runtime.sessionmaker.begin() as session:
        session.execute(insert_for(session, table)
                        .values(account=account, topic=topic, tag_id=tag_id)
                        .on_conflict_do_nothing(index_elements=["account", "topic"]))
        return session.scalar(select(table.c.tag_id).where(
            table.c.account == account, table.c.topic == topic))


def _forget_tag(runtime, account: str, topic: str) -> None:
    """The tag is gone at WeChat: nobody carries it any more, the next sync makes a new one."""
    with runtime.sessionmaker.begin() as session:
        session.execute(delete(TopicTag).where(TopicTag.account == account,
                                               TopicTag.topic == topic))
        session.execute(update(T).where(T.c.account == account, T.c.topic == topic)
                        .values(tagged=False))


def sync(runtime, account: str | None = None, openid: str | None = None,
         limit: int = 500) -> int:
    """Tell WeChat what changed (at most `limit` rows): tag who subscribed, untag who left.

    Rows are marked done only after WeChat said ok; on an error they stay for the next
    sync and the error is logged, never raised. Returns the rows synced."""
    synced = 0
    try:
        for (acct, topic, active), rows in _pending(runtime, account, openid, limit):
            synced += _sync_group(runtime, acct, topic, active, rows)
    except Exception:
        log.exception("topic sync stopped after %d rows", synced)
    return synced


def _pending(runtime, account: str | None, openid: str | None,
             limit: int) -> Iterator[tuple[tuple[str, str, bool], list[tuple[int, str]]]]:
    """Rows to sync, grouped by (account, topic, wanted state): [(id, openid)]."""
    query = select(T.c.id, T.c.account, T.c.topic, T.c.active, T.c.openid).where(
        T.c.active != T.c.tagged)
    if account is not None:
        query = query.where(T.c.account == account)
    if openid is not None:
        query = query.where(T.c.openid == openid)
    with runtime.sessionmaker() as session:
        rows = session.execute(query.order_by(T.c.id).limit(limit)).all()
    rows.sort(key=lambda row: (row.account, row.topic, row.active, row.id))
    for key, group in groupby(rows, key=lambda row: (row.account, row.topic, row.active)):
        yield key, [(row.id, row.openid) for row in group]


def _sync_group(runtime, account: str, topic: str, active: bool,
                rows: Sequence[tuple[int, str]]) -> int:
    what = "tag" if active else "untag"
    try:
        tag_id = tag_for(runtime, account, topic)
        api = runtime.api(account)
    except Exception as exc:
        log.warning("cannot %s %d subscribers of %s/%s: no tag (%s: %s)", what, len(rows),
                    account, topic, getattr(exc, "errcode", "-"), exc)
        return 0
    call = api.tag_users if active else api.untag_users
    done = 0
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        try:
            call(tag_id, [openid for _, openid in batch])
        except Exception as exc:
            errcode = getattr(exc, "errcode", None)
            log.warning("%s of %d subscribers of %s/%s (tag %s) failed, kept for the next "
                        "sync: %s %s", what, len(batch), account, topic, tag_id, errcode, exc)
            if errcode == TAG_GONE:
                _forget_tag(runtime, account, topic)
            break
        done += _mark_done(runtime, [row_id for row_id, _ in batch], active)
    return done


def _mark_done(runtime, ids: list[int], active: bool) -> int:
    """WeChat agrees now; a row whose wish flipped meanwhile stays for the next sync."""
    with runtime.sessionmaker.begin() as session:
        return session.execute(update(T).where(T.c.id.in_(ids), T.c.active.is_(active))
                               .values(tagged=active)).rowcount
