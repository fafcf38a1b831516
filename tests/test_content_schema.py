"""The schema points at the file and line of each mistake."""

from __future__ import annotations

import textwrap

import pytest

from content.schema import ContentError, check, load_catalog

GOOD = """\
items:
- slug: exit-county
  category: criteria
  title: 贫困县退出
  body: 正文
  source: 来源
  facts:
  - id: rate
    label: 贫困发生率
    value: 3%以下
    sentence: 原句
    number: 3
    parts:
    - {label: a, value: 1}
    - {label: b, value: 2}
"""


def write(tmp_path, text, name="items.yaml"):
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def test_good_file_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, GOOD))
    item = catalog.items[0]
    assert item.slug == "exit-county" and item.facts[0].parts[1].value == 2
    assert item.where == "items.yaml:2"


@pytest.mark.parametrize("change,line,message", [
    (("  title: 贫困县退出\n", "  titel: 贫困县退出\n"), 4, "unknown item field `titel`"),
    (("  title: 贫困县退出\n", ""), 2, "`title` is required"),
    (("slug: exit-county", "slug: Exit County"), 2, "lowercase"),
    (("category: criteria", "category: gossip"), 3, "category must be"),
    (("    - {label: b, value: 2}\n", "    - {label: b, value: 5}\n"), 13, "parts add up to 6"),
    (("    sentence: 原句\n", ""), 8, "`sentence` is required"),
    (("    number: 3\n", "    number: 3\n    year: 1800\n"), 13, "year must be"),
    (("    - {label: b, value: 2}\n", "    - {label: b}\n"), 13, "numeric value"),
])
def test_mistakes_point_at_file_and_line(tmp_path, change, line, message):
    old, new = change
    problems = check(write(tmp_path, GOOD.replace(old, new)))
    assert [(p.file, p.line) for p in problems if message in p.message] == [("items.yaml", line)]


def test_duplicate_slugs_across_files(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(ContentError, match=r"b.yaml:2: slug 'exit-county' already used"):
        load_catalog(tmp_path)


def test_duplicate_fact_ids_and_bad_yaml(tmp_path):
    twice = GOOD + "  - {id: rate, label: x, value: y, sentence: z}\n"
    assert any("used twice" in p.message for p in check(write(tmp_path, twice)))
    broken = write(tmp_path, "items: [\n", "broken.yaml")
    assert any(p.file == "broken.yaml" and "not valid YAML" in p.message for p in check(broken))
