"""Topic subscriptions from the subscriber's side: 订阅 政策, 退订 政策, 我的订阅.

A topic is a knowledge category (bot/services/topics.py). The reply says what the subscriber
will now receive; WeChat is told (the topic's user tag) by the scheduler's next tick
(bot/scheduler.py), which tags up to 50 subscribers in one call: after a broadcast, a burst of
subscriptions costs one API call per 50, not one each, and the webhook never waits on WeChat
(the rows not yet tagged are the outbox). These handlers use the database, so none is @quick.
"""

from __future__ import annotations

import re

from bot.dispatch import HandlerGroup, Incoming, NotHandled
from bot.services import topics
from content.normalize import to_simplified

group = HandlerGroup("subscriptions")

COMMAND = (r"^(?P<ask>我想|我要|想|要|请|请帮我|帮我|麻烦)?"
           r"(?P<verb>取消订阅|取消訂閱|取消订閱|取消訂阅|订阅|訂閱|订閱|訂阅|退订|退訂)(?![号號])"
           r"(?P<sep>\s*:\s*|\s+)?(?P<topic>[^?]{0,30})$")
ALL_WORDS = {"全部", "所有", "全部主题", "所有主题", "全部栏目", "所有栏目"}
QUESTION_MARKERS = ("吗", "什么", "怎么", "怎样", "如何", "哪些", "为什么", "多久", "?", "呢")
_SEPARATORS = re.compile(r"[\s,，、;；/和与]+")
EXAMPLE = "回复“订阅 政策”订阅，回复“退订 政策”退订；可以一次写几个，例如“订阅 政策 资金”。"


@group.keyword("我的订阅", "我的訂閱", "订阅列表", "查看订阅", "订阅主题", "我订阅了什么")
def overview(msg: Incoming, ctx) -> str:
    """我的订阅：查看可以订阅的主题和已订阅的主题"""
    with ctx.session() as session:
        current = topics.topics_of(session, msg.account, msg.openid)
    return "\n".join([*_topic_list(current), _receiving(current), EXAMPLE])


@group.regex(COMMAND)
def change(msg: Incoming, ctx, verb: str = "", topic: str | None = None,
           ask: str | None = None, sep: str | None = None, **_):
    """订阅 政策 / 退订 政策：只接收某一类内容的推送（政策、认定、资金、建议、报告）"""
    words = (topic or "").strip()
    if any(marker in words for marker in QUESTION_MARKERS):
        return NotHandled  # a question about subscribing: the search and help answer it
    if not words:
        return overview(msg, ctx)
    chosen, unknown = _parse(words)
    if unknown and not (ask or sep):
        return NotHandled  # "订阅人数": a question the search answers, not a command
    if unknown:
        shown = "、".join(f"“{word[:20]}”" for word in unknown)
        return "\n".join([f"没有{shown}这个主题。", *_topic_list(None), EXAMPLE])
    subscribing = not verb.startswith(("取消", "退"))
    apply = topics.subscribe if subscribing else topics.unsubscribe
    with ctx.transaction() as session:
        changed = [t for t in chosen if apply(session, msg.account, msg.openid, t)]
        current = topics.topics_of(session, msg.account, msg.openid)
    if to_simplified(words) in ALL_WORDS:  # 全部: only what changed is worth saying
        chosen = changed or chosen
    return _changed_reply(subscribing, chosen, changed, current)


def _parse(words: str) -> tuple[list[str], list[str]]:
    """The topics named in `words` (one, several, or 全部) and the words that name none."""
    if to_simplified(words) in ALL_WORDS:
        return list(topics.TOPICS), []
    whole = topics.resolve(words)
    if whole is not None:
        return [whole], []
    chosen: list[str] = []
    unknown: list[str] = []
    for word in filter(None, _SEPARATORS.split(words)):
        found = topics.resolve(word)
        if found is None:
            unknown.append(word)
        elif found not in chosen:
            chosen.append(found)
    return chosen, unknown


def _names(chosen: list[str]) -> str:
    return "、".join(f"“{topics.label(topic)}”" for topic in chosen)


def _changed_reply(subscribing: bool, chosen: list[str], changed: list[str],
                   current: list[str]) -> str:
    unchanged = [topic for topic in chosen if topic not in changed]
    lines = []
    if subscribing:
        if changed:
            lines.append(f"已订阅{_names(changed)}。")
        if unchanged:
            lines.append(f"{_names(unchanged)}您之前已经订阅了，不用重复订阅。")
    else:
        if changed:
            lines.append(f"已退订{_names(changed)}，不会再收到这些主题的推送。")
        if unchanged:
            lines.append(f"您没有订阅{_names(unchanged)}。")
    lines.append(_receiving(current))
    first = topics.SHORT_NAMES[chosen[0]]
    lines.append(f"回复“退订 {first}”可以退订，回复“我的订阅”查看全部主题。" if subscribing
                 else f"回复“订阅 {first}”可以重新订阅，回复“我的订阅”查看全部主题。")
    return "\n".join(lines)


def _receiving(current: list[str]) -> str:
    if not current:
        return "您现在没有订阅任何主题，不会收到主题推送（发给全体关注者的通知照常收到）。"
    return f"您现在会收到这些主题的新内容推送：{_names(current)}。"


def _topic_list(current: list[str] | None) -> list[str]:
    """The topics, one a line, the subscriber's own marked (none marked when `current`
    is None)."""
    lines = ["可以订阅的主题（有新内容发布时推送给您）："]
    for topic in topics.TOPICS:
        mark = "（已订阅）" if current and topic in current else ""
        lines.append(f"· {topics.SHORT_NAMES[topic]}：{topics.label(topic)}{mark}")
    return lines
