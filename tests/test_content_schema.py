"""The schema: item files, facts and parts; each mistake points at its file and line."""

from __future__ import annotations

import textwrap

import pytest

from content.schema import ContentError, Problem, check, load_catalog

GOOD = """\
items:
- slug: exit-county
  category: criteria
  title: 贫困县退出
  body: 正文
  source: 来源
  year: 2016
  keywords: [摘帽, 退出]
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


def where(problems: list[Problem], message: str) -> list[tuple[str, int]]:
    return [(p.file, p.line) for p in problems if message in p.message]


def test_good_file_loads(tmp_path):
    catalog = load_catalog(write(tmp_path, GOOD))
    item = catalog.items[0]
    assert item.slug == "exit-county" and item.keywords == ("摘帽", "退出")
    assert item.facts[0].parts[1].value == 2 and item.facts[0].number == 3
    assert item.where == "items.yaml:2"
    assert catalog.synonyms == () and catalog.dictionary == () and catalog.menu == {}


@pytest.mark.parametrize("old,new,line,message", [
    ("  title: 贫困县退出\n", "  titel: 贫困县退出\n", 4, "unknown item field `titel`"),
    ("  title: 贫困县退出\n", "", 2, "item field `title` is required"),
    ("  body: 正文\n", "  body: '  '\n", 5, "item field `body` is required"),
    ("slug: exit-county", "slug: Exit County", 2, "lowercase"),
    ("slug: exit-county", "slug: 贫困县", 2, "lowercase"),
    ("category: criteria", "category: gossip", 3, "category must be"),
    ("  year: 2016\n", "  year: 1800\n", 7, "year must be between 1949 and 2100"),
    ("  year: 2016\n", "  year: 二〇一六\n", 7, "`year` must be a whole number"),
    ("  keywords: [摘帽, 退出]\n", "  keywords: 摘帽\n", 8, "`keywords` must be a list"),
    ("  keywords: [摘帽, 退出]\n", "  keywords: [摘帽, '']\n", 8, "`keywords` must be a list"),
    ("  title: 贫困县退出\n", "  title: 2016\n", 4, "`title` must be text"),
    ("  source: 来源\n", "  source: 来源\n  menu_key: menu-exit\n", 7, "menu_key 'menu-exit'"),
    ("  source: 来源\n", "  source: 来源\n  source_url: www.x.cn\n", 7, "source_url must start"),
    ("  source: 来源\n", "  source: 来源\n  source: 又一个\n", 7, "key `source` given twice"),
    ("    label: 贫困发生率\n", "    lable: 贫困发生率\n", 11, "unknown fact field `lable`"),
    ("    sentence: 原句\n", "", 10, "fact field `sentence` is required"),
    ("    sentence: 原句\n", "    sentence: ''\n", 13, "fact field `sentence` is required"),
    ("    value: 3%以下\n", "    value: 3\n", 12, "fact field `value` must be text"),
    ("  - id: rate\n", "  - id: Rate 1\n", 10, "fact id 'Rate 1'"),
    ("    number: 3\n", "    number: 3\n    year: 2101\n", 15, "year must be between"),
    ("    number: 3\n", "    number: 三\n", 14, "`number` must be a number"),
    ("    - {label: b, value: 2}\n", "    - {label: b, value: 5}\n", 15, "parts add up to 6"),
    ("    - {label: b, value: 2}\n", "    - {label: b}\n", 17, "part field `value` is required"),
    ("    - {label: b, value: 2}\n", "    - {label: b, value: x}\n", 17, "`value` must be a num"),
    ("    - {label: b, value: 2}\n", "    - {label: b, value: 2, u: 条}\n", 17, "field `u`"),
    ("    - {label: b, value: 2}\n", "    - b\n", 17, "a part is a mapping"),
    ("    number: 3\n", "", 14, "needs its `number`"),
    ("    number: 3\n", "    number: 3\n    parts_approximate: 'yes'\n", 15, "true or false"),
])
def test_mistakes_point_at_file_and_line(tmp_path, old, new, line, message):
    assert old in GOOD
    problems = check(write(tmp_path, GOOD.replace(old, new)))
    assert where(problems, message) == [("items.yaml", line)], problems


def test_parts_may_be_marked_approximate(tmp_path):
    text = GOOD.replace("value: 2}", "value: 5}").replace(
        "    number: 3\n", "    number: 3\n    parts_approximate: true\n")
    assert check(write(tmp_path, text)) == []
    lonely = GOOD.replace("    parts:\n    - {label: a, value: 1}\n    - {label: b, value: 2}\n",
                          "    parts_approximate: true\n")
    assert where(check(write(tmp_path, lonely)), "without parts") == [("items.yaml", 15)]


def test_decimal_parts_add_up_within_rounding(tmp_path):
    thirds = GOOD.replace("number: 3", "number: 100").replace(
        "    - {label: a, value: 1}\n    - {label: b, value: 2}\n",
        "    - {label: a, value: 33.3}\n    - {label: b, value: 33.3}\n"
        "    - {label: c, value: 33.3}\n")
    assert check(write(tmp_path, thirds)) == []
    off = thirds.replace("value: 33.3}\n    - {label: c", "value: 33.1}\n    - {label: c")
    assert where(check(write(tmp_path, off)), "parts add up to 99.7") == [("items.yaml", 15)]


def test_whole_number_parts_add_up_exactly(tmp_path):
    text = GOOD.replace("number: 3", "number: 4")
    assert where(check(write(tmp_path, text)), "parts add up to 3, the figure is 4")


@pytest.mark.parametrize("text,line,message", [
    ("items: [\n", 2, "not valid YAML"),
    ("", 1, "the file is empty"),
    ("- slug: a\n", 1, "a mapping with an `items:` list"),
    ("items: []\nother: 1\n", 2, "unknown top-level key `other`"),
    ("items:\n- just text\n", 2, "an item is a mapping"),
    ("items:\n- slug: a\n  facts: [x]\n", 3, "a fact is a mapping"),
    ("items:\n- slug: a\n  facts: nope\n", 3, "`facts` must be a list"),
])
def test_file_shape_mistakes(tmp_path, text, line, message):
    assert where(check(write(tmp_path, text)), message) == [("items.yaml", line)]


def test_duplicate_slugs_across_files(tmp_path):
    write(tmp_path, GOOD, "a.yaml")
    write(tmp_path, "# another file\n" + GOOD, "b.yaml")
    with pytest.raises(ContentError, match=r"b\.yaml:3: slug 'exit-county' already used at "
                                           r"a\.yaml:2"):
        load_catalog(tmp_path)


def test_duplicate_fact_ids_and_menu_keys(tmp_path):
    twice = GOOD + "  - {id: rate, label: x, value: y, sentence: z}\n"
    assert where(check(write(tmp_path, twice)), "used twice in the item (first at line 10)") \
        == [("items.yaml", 18)]
    keyed = GOOD.replace("  source: 来源\n", "  source: 来源\n  menu_key: MENU_EXIT\n")
    write(tmp_path, keyed, "items.yaml")
    write(tmp_path, keyed.replace("exit-county", "exit-village"), "more.yaml")
    assert where(check(tmp_path), "menu_key 'MENU_EXIT' already used at items.yaml:2") \
        == [("more.yaml", 2)]


def test_every_problem_is_listed(tmp_path):
    text = GOOD.replace("title:", "titel:").replace("category: criteria", "category: x")
    with pytest.raises(ContentError) as raised:
        load_catalog(write(tmp_path, text))
    lines = str(raised.value).splitlines()
    assert len(lines) == len(raised.value.problems) == 3
    assert all(line.startswith("items.yaml:") for line in lines)
    assert "items.yaml:4: unknown item field `titel`" in lines
