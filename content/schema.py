"""Loading and checking content/data: every mistake is reported with its file and line.

content/data holds:
- item files (any other `*.yaml`): a mapping with one key, `items:`, a list of items with the
  fields of content.model.Item; `facts` is a list of content.model.Fact fields, a fact's `parts`
  a list of {label, value, unit}. Parts must add up to the fact's `number` (within rounding)
  unless the fact says `parts_approximate: true` (the source's parts do not add up).
- synonyms.yaml: `groups:`, lists of words that mean the same (the first is the usual one).
- dictionary.txt: jieba's user-dictionary format, "word freq tag" per line.
- menu.yaml: the custom menu in WeChat's JSON shape (`button:` ...); every click key is answered
  by an item's `menu_key` or is one of RESERVED_MENU_KEYS, which code handles.

`check()` returns the problems; `load_catalog()` returns the Catalog or raises ContentError listing
every problem as "file:line: message".
"""

from __future__ import annotations

import re
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from content.located import (
    FLAG,
    INT,
    LIST,
    NUMBER,
    TEXT,
    TEXTS,
    ContentError,
    Mapping,
    Problem,
    Sequence,
    Sink,
    check_fields,
    read_yaml,
)
from content.model import CATEGORIES, Catalog, Fact, Item, Part
from content.schema_lexicon import DICTIONARY_FILE, SYNONYMS_FILE, read_dictionary, read_synonyms
from content.schema_menu import MENU_FILE, MENU_KEY, RESERVED_MENU_KEYS, read_menu

__all__ = ["DATA_DIR", "RESERVED_MENU_KEYS", "ContentError", "Problem", "check", "load_catalog"]

DATA_DIR = Path(__file__).with_name("data")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
YEARS = range(1949, 2101)

ITEM_FIELDS = {"slug": TEXT, "category": TEXT, "title": TEXT, "body": TEXT, "source": TEXT,
               "summary": TEXT, "keywords": TEXTS, "questions": TEXTS, "facts": LIST,
               "year": INT, "image": TEXT, "source_url": TEXT, "menu_key": TEXT}
FACT_FIELDS = {"id": TEXT, "label": TEXT, "value": TEXT, "sentence": TEXT, "section": TEXT,
               "number": NUMBER, "unit": TEXT, "year": INT, "parts": LIST, "keywords": TEXTS,
               "parts_approximate": FLAG}
PART_FIELDS = {"label": TEXT, "value": NUMBER, "unit": TEXT}
REQUIRED_ITEM = ("slug", "category", "title", "body", "source")
REQUIRED_FACT = ("id", "label", "value", "sentence")
REQUIRED_PART = ("label", "value")


def check(path: Path = DATA_DIR) -> list[Problem]:
    """Every problem in the data files under `path` (an empty list when all is well)."""
    return _read(Path(path))[1]


def load_catalog(path: Path = DATA_DIR) -> Catalog:
    """The catalog under `path`; ContentError (listing every problem) when anything is wrong."""
    catalog, problems = _read(Path(path))
    if problems:
        raise ContentError(problems)
    return catalog


def load_lexicon(path: Path = DATA_DIR) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The domain dictionary and the synonym groups (ContentError when either is wrong)."""
    problems: list[Problem] = []
    path = Path(path)
    synonyms = read_synonyms(path / SYNONYMS_FILE, Sink(SYNONYMS_FILE, problems))
    dictionary = read_dictionary(path / DICTIONARY_FILE, Sink(DICTIONARY_FILE, problems))
    if problems:
        raise ContentError(problems)
    return dictionary, synonyms


def parse_item(text: str, name: str = "编辑") -> tuple[Item | None, list[Problem]]:
    """One item written as YAML (the shape of an entry under `items:`), validated as the data
    files are: the item, or the problems with their line numbers."""
    problems: list[Problem] = []
    with tempfile.TemporaryDirectory() as folder:
        file = Path(folder) / f"{name}.yaml"
        indented = "\n".join("  " + line for line in text.splitlines())
        file.write_text("items:\n- " + indented.lstrip(), encoding="utf-8")
        items = _read_items(file, Sink(file.name, problems))
    problems = [Problem(p.file, max(p.line - 1, 1), p.message) for p in problems]
    if problems or len(items) != 1:
        return None, problems or [Problem(f"{name}.yaml", 1, "需要恰好一个条目")]
    return items[0], []


def _read(path: Path) -> tuple[Catalog, list[Problem]]:
    problems: list[Problem] = []
    items: list[Item] = []
    for file in sorted(path.glob("*.yaml")):
        if file.name not in (SYNONYMS_FILE, MENU_FILE):
            items.extend(_read_items(file, Sink(file.name, problems)))
    _check_unique(items, "slug", problems)
    _check_unique([item for item in items if item.menu_key], "menu_key", problems)
    synonyms = read_synonyms(path / SYNONYMS_FILE, Sink(SYNONYMS_FILE, problems))
    dictionary = read_dictionary(path / DICTIONARY_FILE, Sink(DICTIONARY_FILE, problems))
    answered = {item.menu_key for item in items if item.menu_key}
    menu = read_menu(path / MENU_FILE, Sink(MENU_FILE, problems), answered)
    catalog = Catalog(items=tuple(items), synonyms=synonyms, dictionary=dictionary, menu=menu)
    return catalog, problems


def _check_unique(items: list[Item], name: str, problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for item in items:
        value = getattr(item, name)
        if value in seen:
            file, line = item.where.rsplit(":", 1)
            problems.append(Problem(file, int(line),
                                    f"{name} {value!r} already used at {seen[value]}"))
        else:
            seen[value] = item.where


def _read_items(file: Path, sink: Sink) -> list[Item]:
    root = read_yaml(file, sink)
    if root is None:
        return []
    if not isinstance(root, Mapping) or not isinstance(root.get("items"), Sequence):
        sink.add(getattr(root, "line", 1), "an item file is a mapping with an `items:` list")
        return []
    for key in root:
        if key != "items":
            sink.add(root.line_of(key), f"unknown top-level key `{key}` (only `items:`)")
    entries: Sequence = root["items"]
    found = (_item(entry, line, sink) for entry, line in zip(entries, entries.item_lines,
                                                               strict=True))
    return [item for item in found if item is not None]


def _item(entry: Any, line: int, sink: Sink) -> Item | None:
    if not isinstance(entry, Mapping):
        sink.add(line, "an item is a mapping of fields")
        return None
    before = sink.count()
    check_fields(entry, ITEM_FIELDS, REQUIRED_ITEM, "item", sink)
    slug = entry.get("slug")
    if isinstance(slug, str) and slug and not SLUG.match(slug):
        sink.add(entry.line_of("slug"), f"slug {slug!r}: lowercase letters, digits, hyphens")
    if isinstance(entry.get("category"), str) and entry["category"] not in CATEGORIES:
        sink.add(entry.line_of("category"), f"category must be one of {', '.join(CATEGORIES)}")
    _check_year(entry, sink)
    menu_key = entry.get("menu_key")
    if isinstance(menu_key, str) and menu_key and not MENU_KEY.match(menu_key):
        sink.add(entry.line_of("menu_key"), f"menu_key {menu_key!r}: A-Z, digits, underscores")
    url = entry.get("source_url")
    if isinstance(url, str) and url and not url.startswith(("https://", "http://")):
        sink.add(entry.line_of("source_url"), "source_url must start with https:// or http://")
    facts = _facts(entry, sink)
    if sink.count() > before:
        return None
    values = {key: value for key, value in entry.items() if value is not None}
    for name in ("keywords", "questions"):
        values[name] = tuple(values.get(name, ()))
    values["facts"] = facts
    return Item(**values, where=f"{sink.file}:{line}")


def _check_year(entry: Mapping, sink: Sink) -> None:
    year = entry.get("year")
    if isinstance(year, int) and not isinstance(year, bool) and year not in YEARS:
        sink.add(entry.line_of("year"), f"year must be between 1949 and 2100, got {year}")


def _facts(item: Mapping, sink: Sink) -> tuple[Fact, ...]:
    entries = item.get("facts")
    if not isinstance(entries, Sequence):
        return ()
    seen: dict[str, int] = {}
    facts = (_fact(entry, line, seen, sink) for entry, line in zip(entries, entries.item_lines,
                                                                    strict=True))
    return tuple(fact for fact in facts if fact is not None)


def _fact(entry: Any, line: int, seen: dict[str, int], sink: Sink) -> Fact | None:
    if not isinstance(entry, Mapping):
        sink.add(line, "a fact is a mapping of fields")
        return None
    before = sink.count()
    check_fields(entry, FACT_FIELDS, REQUIRED_FACT, "fact", sink)
    fact_id = entry.get("id")
    if isinstance(fact_id, str) and fact_id:
        if not SLUG.match(fact_id):
            sink.add(entry.line_of("id"), f"fact id {fact_id!r}: lowercase letters, digits, "
                                          "hyphens")
        if fact_id in seen:
            sink.add(entry.line_of("id"),
                     f"fact id {fact_id!r} used twice in the item (first at line {seen[fact_id]})")
        seen.setdefault(fact_id, entry.line_of("id"))
    _check_year(entry, sink)
    parts = _parts(entry, sink)
    if sink.count() > before:
        return None
    values = {key: value for key, value in entry.items()
              if value is not None and key != "parts_approximate"}
    values["keywords"] = tuple(values.get("keywords", ()))
    values["parts"] = parts
    return Fact(**values)


def _parts(fact: Mapping, sink: Sink) -> tuple[Part, ...]:
    entries = fact.get("parts")
    approximate = fact.get("parts_approximate") is True
    if not isinstance(entries, Sequence) or not entries:
        if approximate:
            sink.add(fact.line_of("parts_approximate"), "parts_approximate without parts")
        return ()
    before = sink.count()
    for entry, line in zip(entries, entries.item_lines, strict=True):
        if isinstance(entry, Mapping):
            check_fields(entry, PART_FIELDS, REQUIRED_PART, "part", sink)
        else:
            sink.add(line, "a part is a mapping: {label: ..., value: ...}")
    if sink.count() > before:
        return ()
    parts = tuple(Part(entry["label"], entry["value"], entry.get("unit") or "")
                  for entry in entries)
    number = fact.get("number")
    if not isinstance(number, int | float) or isinstance(number, bool):
        sink.add(fact.line_of("parts"), "a figure with parts needs its `number`")
    elif not approximate and not _adds_up([part.value for part in parts], number):
        total = sum(part.value for part in parts)
        sink.add(fact.line_of("parts"), f"parts add up to {total:g}, the figure is {number:g} "
                                        "(mark `parts_approximate: true` if the source says so)")
    return parts


def _adds_up(values: list[float], number: float) -> bool:
    """Whole numbers add up exactly; decimals within half a unit of their last place each."""
    decimals = max(_decimals(value) for value in [*values, number])
    slack = 0.5 * 10 ** -decimals * len(values) if decimals else 0
    return abs(sum(values) - number) <= slack + 1e-9


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0
