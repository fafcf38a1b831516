"""What a push says: the text, the news articles (with the account's cover), the template
notice; shared by the send (bot.services.push_send) and the console's preview of it."""

from __future__ import annotations

import datetime as dt
from importlib import resources

from markdown_it import MarkdownIt
from sqlalchemy import select, update

from bot.clock import beijing
from bot.db import utcnow
from bot.models import AppState, KnowledgeItem, Push

TEXT_LIMIT = 1800
_markdown = MarkdownIt("commonmark", {"html": False})


def items(runtime, slugs: list) -> list[dict]:
    """The push's items that are still active, in its order."""
    with runtime.sessionmaker() as session:
        rows = {row.slug: row for row in session.scalars(
            select(KnowledgeItem).where(KnowledgeItem.slug.in_(slugs),
                                        KnowledgeItem.status == "active"))}
        return [{"slug": s, "title": rows[s].title, "summary": rows[s].summary,
                 "body": rows[s].body, "source": rows[s].source} for s in slugs if s in rows]


def page(runtime, slug: str) -> str:
    return f"{runtime.settings.public_url}/p/{slug}"


def text(runtime, chosen: list[dict]) -> str:
    """A text broadcast: each item's title, summary and page link."""
    head = "【新公开】" if len(chosen) == 1 else f"【新公开信息 {len(chosen)} 条】"
    parts = [head]
    for number, item in enumerate(chosen, 1):
        label = item["title"] if len(chosen) == 1 else f"{number}. {item['title']}"
        summary = item["summary"][:120] + ("…" if len(item["summary"]) > 120 else "")
        lines = (label, summary, f"详情：{page(runtime, item['slug'])}")
        parts.append("\n".join(line for line in lines if line))
    message = "\n\n".join(parts)
    return message if len(message) <= TEXT_LIMIT else message[: TEXT_LIMIT - 1] + "…"


def articles(runtime, chosen: list[dict], thumb: str) -> list[dict]:
    """News articles for a draft (WeChat's limits: title 32, digest 128 characters)."""
    return [{
        "title": cut(item["title"], 32), "author": "省扶贫办",
        "digest": cut(item["summary"], 120), "thumb_media_id": thumb,
        "content": _markdown.render(item["body"] or item["summary"])
        + (f"<p>来源：{item['source']}</p>" if item["source"] else ""),
        "content_source_url": page(runtime, item["slug"]),
        "need_open_comment": 0, "only_fans_can_comment": 0,
    } for item in chosen]


def text_of(runtime, push: Push) -> str:
    """The text a text push sends, composed as the send does (the console shows it); ""
    when none of its items is active any more."""
    chosen = items(runtime, list(push.slugs))
    return text(runtime, chosen) if chosen else ""


def articles_of(runtime, push: Push) -> list[dict]:
    """The news articles a push sends, as the send composes them (without the cover)."""
    return articles(runtime, items(runtime, list(push.slugs)), "")


def draft(runtime, api, push_id: int, account: str, chosen: list[dict]) -> str:
    """A news draft of `chosen`, its media_id recorded on the push at once."""
    thumb = cover(runtime, api, account)
    media_id = api.add_draft(articles(runtime, chosen, thumb))["media_id"]
    with runtime.sessionmaker.begin() as session:
        session.execute(update(Push).where(Push.id == push_id).values(media_id=media_id))
    return media_id


def cover(runtime, api, account: str) -> str:
    """The account's cover picture, uploaded once as a permanent material."""
    key = f"push-cover:{account}"
    with runtime.sessionmaker() as session:
        known = session.get(AppState, key)
        if known is not None and known.value:
            return known.value
    picture = resources.files("content").joinpath("data/media/push-cover.png").read_bytes()
    media_id = api.add_material("image", "push-cover.png", picture)["media_id"]
    with runtime.sessionmaker.begin() as session:
        session.merge(AppState(key=key, value=media_id, updated_at=utcnow()))
    return media_id


def template_data(chosen: list[dict], now: dt.datetime) -> dict:
    """The "newly disclosed" template notice (first, keyword1 title, keyword2 date, remark)."""
    title = chosen[0]["title"] if len(chosen) == 1 else f"{chosen[0]['title']} 等 {len(chosen)} 条"
    return {"first": {"value": "省扶贫办有新公开的信息"}, "keyword1": {"value": cut(title, 60)},
            "keyword2": {"value": f"{beijing(now):%Y-%m-%d}"},
            "remark": {"value": "点击查看详情"}}


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
