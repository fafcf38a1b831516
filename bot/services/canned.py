"""Canned answers for staff: the knowledge items and report facts that fit a case, each
composed as a ready reply (the answer, its source and the page link) to insert and edit."""

from __future__ import annotations

from dataclasses import dataclass

MAX_QUERY = 200


@dataclass(frozen=True)
class Canned:
    title: str
    slug: str
    text: str


def suggestions(knowledge, query: str, base_url: str, limit: int = 3) -> list[Canned]:
    """Up to `limit` answers for `query` (the case's text, or what staff searched for)."""
    query = " ".join(query.split())[:MAX_QUERY]
    if not query:
        return []
    result = knowledge.index().search(query, limit=limit)
    found = []
    for hit in result.hits[:limit]:
        looked_up = knowledge.lookup(hit.doc_id)
        if looked_up is not None:
            item, fact = looked_up
            found.append(Canned(hit.title, item.slug, compose(item, fact, base_url)))
    return found


def compose(item, fact, base_url: str) -> str:
    """The reply text: a fact's figure with its sentence, or the item's summary; then the
    source and the page."""
    if fact is not None:
        answer = f"{fact.label}：{fact.value}。{fact.sentence}".strip()
    else:
        answer = item.summary or item.title
    source = f"（来源：{item.source}）" if item.source else ""
    return f"{answer}{source}\n详情请见：{base_url}/p/{item.slug}"
