"""Loading and checking content/data: every mistake is reported with its file and line.

An item file is YAML with a top-level `items:` list; each entry has the fields of
content.model.Item (facts as a list of content.model.Fact fields, parts as {label, value,
unit}). `load_catalog()` raises ContentError listing every problem; `check()` returns them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from content.model import CATEGORIES, Catalog, Fact, Item, Part

DATA_DIR = Path(__file__).with_name("data")
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
ITEM_FIELDS = {f.name for f in fields(Item)} - {"where"}
FACT_FIELDS = {f.name for f in fields(Fact)} | {"parts_approximate"}
REQUIRED_ITEM = ("slug", "category", "title", "body", "source")
REQUIRED_FACT = ("id", "label", "value", "sentence")
TUPLE_FIELDS = ("keywords", "questions")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _lines(node: yaml.Node) -> dict[str, int]:
    """Line (1-based) of each key of a mapping node."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {key.value: key.start_mark.line + 1 for key, _ in node.value}


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.path.name, line, message))

    def items(self) -> list[Item]:
        text = self.path.read_text(encoding="utf-8")
        try:
            root = yaml.compose(text)
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            self.problem(mark.line + 1 if mark else 1, f"not valid YAML: {exc}")
            return []
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            self.problem(1, "expected a mapping with an `items:` list")
            return []
        item_nodes = dict(root.value)[next(k for k, _ in root.value if k.value == "items")]
        return [item for item in (self.item(entry, node) for entry, node
                                  in zip(data["items"], item_nodes.value, strict=True))
                if item is not None]

    def item(self, entry: Any, node: yaml.Node) -> Item | None:
        line = node.start_mark.line + 1
        if not isinstance(entry, dict):
            self.problem(line, "an item is a mapping of fields")
            return None
        lines = _lines(node)
        before = len(self.problems)
        self.fields_known(entry, ITEM_FIELDS, lines, line, "item")
        for name in REQUIRED_ITEM:
            if not isinstance(entry.get(name), str) or not entry[name].strip():
                self.problem(lines.get(name, line), f"item field `{name}` is required text")
        slug = entry.get("slug", "")
        if isinstance(slug, str) and slug and not SLUG.match(slug):
            self.problem(lines["slug"], f"slug {slug!r}: lowercase letters, digits, hyphens")
        if entry.get("category") not in CATEGORIES:
            self.problem(lines.get("category", line),
                         f"category must be one of {', '.join(CATEGORIES)}")
        self.year(entry.get("year"), lines.get("year", line))
        facts = self.facts(entry.get("facts", []), node, lines.get("facts", line))
        if len(self.problems) > before:
            return None
        values = {k: v for k, v in entry.items() if k in ITEM_FIELDS and k != "facts"}
        for name in TUPLE_FIELDS:
            values[name] = tuple(str(v) for v in values.get(name, ()) or ())
        return Item(**values, facts=facts, where=f"{self.path.name}:{line}")

    def fields_known(self, entry: dict, known: set[str], lines: dict[str, int], line: int,
                     what: str) -> None:
        for key in entry:
            if key not in known:
                self.problem(lines.get(key, line), f"unknown {what} field `{key}`")

    def year(self, value: Any, line: int) -> None:
        if value is not None and (not isinstance(value, int) or not 1949 <= value <= 2100):
            self.problem(line, f"year must be a year between 1949 and 2100, got {value!r}")

    def facts(self, entries: Any, item_node: yaml.Node, line: int) -> tuple[Fact, ...]:
        if not isinstance(entries, list):
            self.problem(line, "facts is a list")
            return ()
        nodes = next((v.value for k, v in item_node.value if k.value == "facts"), [])
        result, seen = [], set()
        for entry, node in zip(entries, nodes, strict=False):
            fact = self.fact(entry, node, seen)
            if fact is not None:
                result.append(fact)
        return tuple(result)

    def fact(self, entry: Any, node: yaml.Node, seen: set[str]) -> Fact | None:
        line = node.start_mark.line + 1
        if not isinstance(entry, dict):
            self.problem(line, "a fact is a mapping of fields")
            return None
        lines = _lines(node)
        before = len(self.problems)
        self.fields_known(entry, FACT_FIELDS, lines, line, "fact")
        for name in REQUIRED_FACT:
            if entry.get(name) in (None, ""):
                self.problem(lines.get(name, line), f"fact field `{name}` is required")
        if entry.get("id") in seen:
            self.problem(lines.get("id", line), f"fact id {entry['id']!r} used twice in the item")
        seen.add(entry.get("id"))
        self.year(entry.get("year"), lines.get("year", line))
        parts = self.parts(entry, lines.get("parts", line))
        if len(self.problems) > before:
            return None
        values = {k: v for k, v in entry.items() if k in FACT_FIELDS - {"parts_approximate"}}
        values["value"] = str(values["value"])
        values["keywords"] = tuple(values.get("keywords", ()) or ())
        return Fact(**{**values, "parts": parts})

    def parts(self, entry: dict, line: int) -> tuple[Part, ...]:
        raw = entry.get("parts") or []
        try:
            parts = tuple(Part(str(p["label"]), float(p["value"]), str(p.get("unit", "")))
                          for p in raw)
        except (TypeError, KeyError, ValueError):
            self.problem(line, "each part needs a label and a numeric value")
            return ()
        number = entry.get("number")
        if parts and not entry.get("parts_approximate"):
            total = sum(p.value for p in parts)
            if not isinstance(number, int | float) or abs(total - number) > 1e-6:
                self.problem(line, f"parts add up to {total:g}, the figure is {number!r}")
        return parts


def check(path: Path = DATA_DIR) -> list[Problem]:
    try:
        load_catalog(path)
    except ContentError as error:
        return error.problems
    return []


def load_catalog(path: Path = DATA_DIR) -> Catalog:
    problems: list[Problem] = []
    items: list[Item] = []
    for file in sorted(path.glob("*.yaml")):
        if file.name in ("synonyms.yaml", "menu.yaml"):
            continue
        reader = _Reader(file)
        items.extend(reader.items())
        problems.extend(reader.problems)
    seen: dict[str, str] = {}
    for item in items:
        if item.slug in seen:
            file, line = item.where.split(":")
            problems.append(Problem(file, int(line),
                                    f"slug {item.slug!r} already used at {seen[item.slug]}"))
        seen[item.slug] = item.where
    if problems:
        raise ContentError(problems)
    return Catalog(items=tuple(items))
