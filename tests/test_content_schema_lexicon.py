"""synonyms.yaml and dictionary.txt: well-formed, each mistake at its line."""

from __future__ import annotations

import pytest

from content.schema import check, load_catalog

SYNONYMS = """\
groups:
- [贫困户, 建档立卡户]
- [摘帽, 退出, 脱贫摘帽]
"""

DICTIONARY = "两不愁三保障 3000 l\n建档立卡 3000\n一高一低一无 l\n\n云南扶贫热线\n"


def at(found, message):
    return [(p.file, p.line) for p in found if message in p.message]


def test_good_vocabulary_loads(tmp_path):
    (tmp_path / "synonyms.yaml").write_text(SYNONYMS, encoding="utf-8")
    (tmp_path / "dictionary.txt").write_text(DICTIONARY, encoding="utf-8")
    catalog = load_catalog(tmp_path)
    assert catalog.synonyms == (("贫困户", "建档立卡户"), ("摘帽", "退出", "脱贫摘帽"))
    assert catalog.dictionary == ("两不愁三保障", "建档立卡", "一高一低一无", "云南扶贫热线")


@pytest.mark.parametrize("text,line,message", [
    (SYNONYMS + "- [贫困户]\n", 4, "at least two words"),
    (SYNONYMS + "- [建档户, 贫困户]\n", 4, "'贫困户' is already in the group at line 2"),
    (SYNONYMS + "- [建档户, 建档户]\n", 4, "listed twice in the group"),
    (SYNONYMS + "- [建档 户, 建档户]\n", 4, "without spaces"),
    (SYNONYMS + "- 贫困户\n", 4, "a list of words"),
    (SYNONYMS + "- [贫困户a, 3]\n", 4, "a list of words"),
    (SYNONYMS + "words: []\n", 4, "unknown synonyms key `words`"),
    ("- [贫困户, 建档立卡户]\n", 1, "a mapping with a `groups:` list"),
])
def test_synonym_mistakes(tmp_path, text, line, message):
    (tmp_path / "synonyms.yaml").write_text(text, encoding="utf-8")
    assert at(check(tmp_path), message) == [("synonyms.yaml", line)]


@pytest.mark.parametrize("line_text,message", [
    ("# 注释", "jieba reads no comments"),
    ("两不愁三保障  3000 l", "expected \"word freq tag\""),
    ("两不愁三保障 3000 L", "expected \"word freq tag\""),
    ("两不愁三保障\t3000", "expected \"word freq tag\""),
    ("两不愁三保障 3000 l ", "expected \"word freq tag\""),
    ("新词 0 n", "above 0"),
    ("建档立卡 100 n", "'建档立卡' is already at line 2"),
])
def test_dictionary_mistakes(tmp_path, line_text, message):
    (tmp_path / "dictionary.txt").write_text(DICTIONARY + line_text + "\n", encoding="utf-8")
    assert at(check(tmp_path), message) == [("dictionary.txt", 6)]
