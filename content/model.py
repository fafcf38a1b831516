"""The knowledge base's items, as plain data (no I/O, nothing of bot/).

The contract between the data files (content/schema.py loads and validates them), the search
index (content/search.py) and the database (bot/ stores items with the same fields).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The disclosure column's four sub-columns, plus the annual report and FAQ.
CATEGORIES = {
    "policy": "扶贫政策法规",
    "criteria": "贫困村贫困户认定标准及申报程序",
    "funding": "扶贫资金项目信息",
    "proposal": "建议提案",
    "report": "年度报告",
    "faq": "常见问题",
}


@dataclass(frozen=True)
class Part:
    """One component of a figure that has parts (332 = 111 + 27 + ...)."""

    label: str
    value: float
    unit: str = ""


@dataclass(frozen=True)
class Fact:
    """One figure, date, name, list, problem or plan, quotable with its source sentence.

    `id` is unique within its item; the fact's global id is ``f"{item.slug}#{fact.id}"``.
    """

    id: str
    label: str  # what it is, as a person would ask: "省扶贫办网站发布扶贫信息条数"
    value: str  # the answer as text: "332条"
    sentence: str  # the original sentence, verbatim from the source
    section: str = ""  # the source's section: "三（一）"
    number: float | None = None
    unit: str = ""
    year: int | None = None
    parts: tuple[Part, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Item:
    """A knowledge item: a page at /p/<slug>, answerable on its own or through its facts."""

    slug: str
    category: str  # a key of CATEGORIES
    title: str
    body: str  # Markdown, written by the office from its sources
    source: str  # where the facts come from (document, article, date)
    summary: str = ""  # the short answer a chat reply starts with
    keywords: tuple[str, ...] = ()
    questions: tuple[str, ...] = ()  # how people ask for it (typical phrasings)
    facts: tuple[Fact, ...] = ()
    year: int | None = None  # the year the item is about, when it is about one year
    image: str = ""  # a picture: replies become a news article
    source_url: str = ""
    menu_key: str = ""  # a CLICK menu key this item answers
    where: str = field(default="", compare=False)  # "file:line", for error messages


@dataclass(frozen=True)
class Catalog:
    """Everything content/data holds."""

    items: tuple[Item, ...]
    synonyms: tuple[tuple[str, ...], ...] = ()  # groups of words meaning the same
    dictionary: tuple[str, ...] = ()  # domain words for jieba
    menu: dict = field(default_factory=dict)  # WeChat's menu JSON shape ({"button": [...]})
