"""YAML read with line numbers, and the problems that point at them.

PyYAML's `safe_load` forgets where each value came from; here the composed node tree is turned
into plain values whose mappings and lists remember their lines (1-based), so a validator can say
"policy.yaml:42: unknown item field `titel`". Keys given twice in one mapping are reported too
(plain YAML loading silently keeps the last one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Problem:
    """One mistake in a data file."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class ContentError(ValueError):
    """The data files have problems; `problems` lists them all, in file order."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


class Sink:
    """Collects the problems of one file."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file = file
        self.problems = problems

    def add(self, line: int, message: str) -> None:
        self.problems.append(Problem(self.file, line, message))

    def count(self) -> int:
        return len(self.problems)


class Mapping(dict):
    """A YAML mapping that remembers its own line and the line of each key."""

    line: int = 1
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class Sequence(list):
    """A YAML list that remembers its own line and the line of each entry."""

    line: int = 1
    item_lines: list[int]


def plain(value: Any) -> Any:
    """The same data as built-in dicts and lists (for values handed out of the toolkit)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def read_yaml(path: Path, sink: Sink) -> Any:
    """The file's single document with lines attached; None (and a problem) when unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sink.add(1, f"cannot read the file as UTF-8: {exc}")
        return None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            sink.add(1, "the file is empty")
            return None
        return _build(node, loader, sink)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        sink.add(mark.line + 1 if mark else 1, f"not valid YAML: {exc}")
        return None
    finally:
        loader.dispose()


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _build(node: yaml.Node, loader: yaml.SafeLoader, sink: Sink) -> Any:
    if isinstance(node, yaml.MappingNode):
        return _build_mapping(node, loader, sink)
    if isinstance(node, yaml.SequenceNode):
        result = Sequence(_build(child, loader, sink) for child in node.value)
        result.line = _line(node)
        result.item_lines = [_line(child) for child in node.value]
        return result
    return loader.construct_object(node, deep=True)


def _build_mapping(node: yaml.MappingNode, loader: yaml.SafeLoader, sink: Sink) -> Mapping:
    result = Mapping()
    result.line = _line(node)
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = _build(key_node, loader, sink)
        if not isinstance(key, str | int | float | bool) and key is not None:
            sink.add(_line(key_node), "a key must be a plain word")
            continue
        if key in result:
            sink.add(_line(key_node),
                     f"key `{key}` given twice (first at line {result.key_lines[key]})")
            continue
        result[key] = _build(value_node, loader, sink)
        result.key_lines[key] = _line(key_node)
    return result


# Field kinds for check_fields: what a value must be, and how a mistake is described.
TEXT, TEXTS, INT, NUMBER, FLAG, LIST = "text", "texts", "int", "number", "flag", "list"
_KIND_NAMES = {TEXT: "text", TEXTS: "a list of texts", INT: "a whole number",
               NUMBER: "a number", FLAG: "true or false", LIST: "a list"}


def _is_kind(value: Any, kind: str) -> bool:
    if kind == TEXT:
        return isinstance(value, str)
    if kind == TEXTS:
        return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == FLAG:
        return isinstance(value, bool)
    return isinstance(value, list)


def check_fields(entry: Mapping, spec: dict[str, str], required: tuple[str, ...], what: str,
                 sink: Sink) -> None:
    """Unknown fields (typos like `titel`), missing required fields, values of the wrong kind."""
    for key in entry:
        if key not in spec:
            sink.add(entry.line_of(key), f"unknown {what} field `{key}`")
        elif entry[key] is not None and not _is_kind(entry[key], spec[key]):
            sink.add(entry.line_of(key),
                     f"{what} field `{key}` must be {_KIND_NAMES[spec[key]]}")
    for key in required:
        value = entry.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            sink.add(entry.line_of(key) if key in entry else entry.line,
                     f"{what} field `{key}` is required")
