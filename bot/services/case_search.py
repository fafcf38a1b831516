"""Finding cases by what the subscriber wrote or by case number without reading every case.

A query is one or more terms (split on spaces; a case must contain all of them). Terms of three
characters or more go through a trigram index from migration 0011: on SQLite the FTS5 table
`cases_fts` (trigram tokenizer, MATCH with each term quoted as a phrase, so `"`, `*`, `OR`,
`NEAR` are plain text), on PostgreSQL the pg_trgm GIN index that ILIKE uses. A case number
(its 8-digit date, then optionally more of it) is a range on the unique index of
cases.number. Shorter terms have no index: they are only ever checked row by row, on cases
another index or the inbox's bounded window (bot/services/inbox.py) has already picked.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, column, select, table, text
from sqlalchemy.orm import Session

from bot.models import Case

MAX_QUERY = 100  # characters; the form's maxlength
MAX_TERMS = 5
MIN_TRIGRAM = 3
NUMBER = re.compile(r"(\d{8})(?:-\d{0,4})?")
WORD_RUN = re.compile(r"[^\W_]{3,}")  # what pg_trgm can take trigrams from (letters, digits)
FTS = table("cases_fts", column("rowid"))  # SQLite only (migration 0011)


def clean_query(raw: str, limit: int = MAX_QUERY) -> str:
    """Text as searched: control and format characters (NUL included, which PostgreSQL
    refuses) dropped, spaces collapsed, at most `limit` characters."""
    kept = "".join(" " if ch.isspace() else ch for ch in raw
                   if ch.isspace() or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return " ".join(kept.split())[:limit].strip()


@dataclass(frozen=True)
class Search:
    """A cleaned query: either a case-number prefix or up to MAX_TERMS text terms."""

    number: str = ""
    terms: tuple[str, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> Search:
        query = clean_query(raw)
        if NUMBER.fullmatch(query):
            return cls(number=query)
        return cls(terms=tuple(dict.fromkeys(query.split()))[:MAX_TERMS])

    def __bool__(self) -> bool:
        return bool(self.number or self.terms)

    @property
    def received_on_or_after(self) -> dt.date | None:
        """A number starts with the day the case was received: no case found by it has an
        earlier deadline (a deadline is never before the day received)."""
        try:
            return dt.datetime.strptime(self.number[:8], "%Y%m%d").date()
        except ValueError:
            return None

    def conditions(self, dialect: str) -> list[ColumnElement[bool]]:
        """Exact SQL conditions: a case matches when all hold (checked row by row)."""
        if self.number:
            return [Case.number >= self.number, Case.number < _successor(self.number)]
        return [_contains(term, dialect) for term in self.terms]

    def candidates(self, session: Session, limit: int) -> list[int] | None:
        """The ids of the cases the index gives (a superset of the matches, or exactly them),
        at most `limit`; None when the index cannot narrow the search down that far."""
        dialect = session.get_bind().dialect.name
        if self.number:
            query = select(Case.id).where(*self.conditions(dialect))
        elif dialect == "sqlite" and self._trigram_terms(dialect):
            query = select(FTS.c.rowid).where(
                text("cases_fts MATCH :match").bindparams(match=self.fts_match()))
        elif self._trigram_terms(dialect):
            query = select(Case.id).where(and_(*(
                _contains(term, dialect) for term in self._trigram_terms(dialect))))
        else:
            return None
        found = list(session.scalars(query.limit(limit + 1)))
        return found if len(found) <= limit else None

    def fts_match(self) -> str:
        """The FTS5 query: every long term a quoted phrase ("" inside), all required."""
        return " AND ".join('"' + term.replace('"', '""') + '"'
                            for term in self._trigram_terms("sqlite"))

    def _trigram_terms(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            return [term for term in self.terms if len(term) >= MIN_TRIGRAM]
        # pg_trgm takes trigrams from runs of letters and digits only; a pattern without
        # one would make the GIN index read every entry.
        return [term for term in self.terms if WORD_RUN.search(term)]


def _contains(term: str, dialect: str) -> ColumnElement[bool]:
    """cases.description contains `term`, ASCII case ignored (as the FTS5 index does).
    SQLite's LIKE ignores ASCII case; on PostgreSQL a term without letters that have a case
    (Chinese, digits) takes LIKE, which is several times faster there than ILIKE."""
    if dialect == "sqlite" or all(ch.lower() == ch.upper() for ch in term):
        return Case.description.like(_pattern(term), escape="\\")
    return Case.description.ilike(_pattern(term), escape="\\")


def _pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _successor(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix` (ASCII)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
