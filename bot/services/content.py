"""The knowledge base in the database: load the reviewed data files, read items back.

`load()` is idempotent: items are upserted by slug, an item that left the data files is
archived (never deleted), and the content version is bumped only when something changed, so
every process rebuilds its search index once per real change.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy import Integer, Text, cast, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models import AppState, KnowledgeItem
from bot.services import pushes
from bot.services.upsert import insert_for
from content.model import Fact, Item, Part

VERSION_KEY = "content_version"
_FIELDS = ("category", "title", "summary", "body", "source", "source_url", "keywords",
           "questions", "facts", "year", "image", "menu_key")


@dataclass(frozen=True)
class LoadReport:
    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    archived: tuple[str, ...] = ()
    unchanged: int = 0
    version: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.archived)


def item_row(item: Item) -> dict:
    """The column values of `item` (lists and facts as JSON-ready data)."""
    return {
        "category": item.category, "title": item.title, "summary": item.summary,
        "body": item.body, "source": item.source, "source_url": item.source_url,
        "keywords": list(item.keywords), "questions": list(item.questions),
        "facts": [_fact_json(fact) for fact in item.facts], "year": item.year,
        "image": item.image, "menu_key": item.menu_key,
    }


def _fact_json(fact: Fact) -> dict:
    data = dataclasses.asdict(fact)
    data["parts"] = [dataclasses.asdict(part) for part in fact.parts]
    data["keywords"] = list(fact.keywords)
    return data


def to_item(row: KnowledgeItem) -> Item:
    facts = tuple(
        Fact(**{**fact, "parts": tuple(Part(**part) for part in fact.get("parts", ())),
                "keywords": tuple(fact.get("keywords", ()))})
        for fact in row.facts or ()
    )
    return Item(slug=row.slug, category=row.category, title=row.title, body=row.body,
                source=row.source, summary=row.summary, keywords=tuple(row.keywords or ()),
                questions=tuple(row.questions or ()), facts=facts, year=row.year,
                image=row.image, source_url=row.source_url, menu_key=row.menu_key)


def load(session: Session, items: list[Item] | tuple[Item, ...]) -> LoadReport:
    """Upsert `items` by slug, archive active items not among them, bump the version."""
    existing = {row.slug: row for row in session.scalars(select(KnowledgeItem))}
    created, updated, unchanged, changed = [], [], 0, []
    now = utcnow()
    for item in items:
        values = item_row(item)
        row = existing.get(item.slug)
        if row is None:
            row = KnowledgeItem(slug=item.slug, status="active", revision=1,
                                created_at=now, updated_at=now, **values)
            session.add(row)
            created.append(item.slug)
            changed.append((row, "new"))
        elif row.status != "active" or any(getattr(row, k) != values[k] for k in _FIELDS):
            for key, value in values.items():
                setattr(row, key, value)
            row.status, row.revision, row.updated_at = "active", row.revision + 1, now
            updated.append(item.slug)
            changed.append((row, "changed"))
        else:
            unchanged += 1
    if existing:  # the first import is the baseline, not news to push
        for row, change in changed:
            pushes.note_change(session, row, change)
    wanted = {item.slug for item in items}
    archived = [slug for slug, row in existing.items()
                if slug not in wanted and row.status == "active"]
    for slug in archived:
        existing[slug].status, existing[slug].updated_at = "archived", now
    report = LoadReport(tuple(created), tuple(updated), tuple(archived), unchanged)
    version = bump_version(session) if report.changed else current_version(session)
    return dataclasses.replace(report, version=version)


def save_item(session: Session, item: Item) -> str:
    """Create or change one item (staff editing it); "created", "updated" or "unchanged".
    A real change bumps the content version, so every process rebuilds its index."""
    values, now = item_row(item), utcnow()
    row = get_item(session, item.slug)
    if row is None:
        row = KnowledgeItem(slug=item.slug, status="active", revision=1, created_at=now,
                            updated_at=now, **values)
        session.add(row)
        outcome = "created"
    elif row.status != "active" or any(getattr(row, k) != values[k] for k in _FIELDS):
        for key, value in values.items():
            setattr(row, key, value)
        row.status, row.revision, row.updated_at = "active", row.revision + 1, now
        outcome = "updated"
    else:
        return "unchanged"
    bump_version(session)
    session.flush()
    pushes.note_change(session, row, "new" if outcome == "created" else "changed")
    return outcome


def archive_item(session: Session, slug: str) -> bool:
    """Take an item out of the answers (its row stays); False when it was not active."""
    row = get_item(session, slug)
    if row is None or row.status != "active":
        return False
    row.status, row.updated_at = "archived", utcnow()
    bump_version(session)
    pushes.withdraw_candidates(session, slug)
    return True


def active_items(session: Session) -> list[Item]:
    rows = session.scalars(select(KnowledgeItem).where(KnowledgeItem.status == "active")
                           .order_by(KnowledgeItem.slug))
    return [to_item(row) for row in rows]


def get_item(session: Session, slug: str) -> KnowledgeItem | None:
    return session.scalar(select(KnowledgeItem).where(KnowledgeItem.slug == slug))


def current_version(bind: Session | Connection) -> int:
    value = bind.execute(select(AppState.value).where(AppState.key == VERSION_KEY)).scalar()
    return int(value) if value else 0


def bump_version(session: Session) -> int:
    """Increase the content version atomically (every process rebuilds when it changes)."""
    table = AppState.__table__
    stmt = insert_for(session, table).values(key=VERSION_KEY, value="1", updated_at=utcnow())
    incremented = cast(cast(table.c.value, Integer) + 1, Text)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["key"], set_={"value": incremented,
                                      "updated_at": stmt.excluded.updated_at}))
    return current_version(session)
