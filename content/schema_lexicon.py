"""The search vocabulary: synonyms.yaml and dictionary.txt, checked line by line."""

from __future__ import annotations

import re
from pathlib import Path

from content.located import Mapping, Sequence, Sink, read_yaml

SYNONYMS_FILE = "synonyms.yaml"
DICTIONARY_FILE = "dictionary.txt"
# jieba's user dictionary: "word", "word freq", "word tag" or "word freq tag", one space apart.
DICTIONARY_LINE = re.compile(r"^(?P<word>\S+)(?: (?P<freq>[0-9]+))?(?: (?P<tag>[a-z]+))?$")


def read_synonyms(path: Path, sink: Sink) -> tuple[tuple[str, ...], ...]:
    """Groups of at least two words meaning the same; a word belongs to one group only."""
    if not path.exists():
        return ()
    root = read_yaml(path, sink)
    if root is None:
        return ()
    if not isinstance(root, Mapping) or not isinstance(root.get("groups"), Sequence):
        sink.add(getattr(root, "line", 1), "synonyms are a mapping with a `groups:` list")
        return ()
    for key in root:
        if key != "groups":
            sink.add(root.line_of(key), f"unknown synonyms key `{key}` (only `groups:`)")
    groups: Sequence = root["groups"]
    owner: dict[str, int] = {}
    result = []
    for group, line in zip(groups, groups.item_lines, strict=True):
        words = _group_words(group, line, sink)
        for word in words:
            if word in owner:
                sink.add(line, f"{word!r} is already in the group at line {owner[word]}")
            owner.setdefault(word, line)
        if words:
            result.append(words)
    return tuple(result)


def _group_words(group: object, line: int, sink: Sink) -> tuple[str, ...]:
    if not isinstance(group, list) or not all(isinstance(word, str) for word in group):
        sink.add(line, "a synonym group is a list of words: [贫困户, 建档立卡户]")
        return ()
    words = tuple(word.strip() for word in group)
    if any(not word or re.search(r"\s", word) for word in words):
        sink.add(line, "a synonym is a word without spaces")
        return ()
    if len(set(words)) != len(words):
        sink.add(line, "a word is listed twice in the group")
        return ()
    if len(words) < 2:
        sink.add(line, "a synonym group needs at least two words")
        return ()
    return words


def read_dictionary(path: Path, sink: Sink) -> tuple[str, ...]:
    """The words of the jieba user dictionary (frequencies and tags are jieba's business)."""
    if not path.exists():
        return ()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        sink.add(1, f"cannot read the file as UTF-8: {exc}")
        return ()
    words: dict[str, int] = {}
    for number, line in enumerate(lines, 1):
        word = _dictionary_word(line, number, sink)
        if word is None:
            continue
        if word in words:
            sink.add(number, f"{word!r} is already at line {words[word]}")
        else:
            words[word] = number
    return tuple(words)


def _dictionary_word(line: str, number: int, sink: Sink) -> str | None:
    if not line.strip():
        return None
    if line.startswith("#"):
        sink.add(number, "jieba reads no comments: every line is a word")
        return None
    match = DICTIONARY_LINE.match(line)
    if match is None:
        sink.add(number, "expected \"word freq tag\" (one space apart, tag in a-z)")
        return None
    if match["freq"] is not None and int(match["freq"]) == 0:
        sink.add(number, "the frequency must be above 0")
        return None
    return match["word"]
