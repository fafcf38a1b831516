"""menu.yaml: WeChat's limits and answerable click keys, each mistake at its line."""

from __future__ import annotations

import textwrap

import pytest

from content.schema import RESERVED_MENU_KEYS, check, load_catalog

ITEM = """\
items:
- slug: exit
  category: criteria
  title: 退出标准
  body: 正文
  source: 来源
  menu_key: MENU_EXIT
"""

MENU = """\
button:
- name: 政策查询
  sub_button:
  - {type: click, name: 退出标准, key: MENU_EXIT}
  - {type: click, name: 使用帮助, key: HELP}
- {type: click, name: 留言, key: LEAVE_MESSAGE}
"""


def problems(tmp_path, menu):
    (tmp_path / "items.yaml").write_text(ITEM, encoding="utf-8")
    (tmp_path / "menu.yaml").write_text(textwrap.dedent(menu), encoding="utf-8")
    return check(tmp_path)


def at(found, message):
    return [(p.file, p.line) for p in found if message in p.message]


def test_reserved_keys():
    assert RESERVED_MENU_KEYS == {"HELP", "LEAVE_MESSAGE", "MY_CASES"}


def test_good_menu_loads_as_wechat_json(tmp_path):
    assert problems(tmp_path, MENU) == []
    menu = load_catalog(tmp_path).menu
    assert type(menu) is dict and type(menu["button"]) is list
    assert menu["button"][0]["sub_button"][0] == {"type": "click", "name": "退出标准",
                                                  "key": "MENU_EXIT"}


SUB = "  - {type: click, name: 使用帮助, key: HELP}\n"
TOP = "- {type: click, name: 留言, key: LEAVE_MESSAGE}\n"


@pytest.mark.parametrize("old,new,line,message", [
    ("key: MENU_EXIT}", "key: MENU_EXITS}", 4, "'MENU_EXITS' is answered by no item"),
    ("key: HELP}", "key: MENU_EXIT}", 5, "'MENU_EXIT' already used at line 4"),
    ("key: HELP}", "key: help}", 5, "A-Z, digits, underscores"),
    ("key: HELP}", "key: " + "K" * 129 + "}", 5, "129 bytes, at most 128"),
    ("name: 政策查询", "name: 政策查询服务", 2, "18 bytes, at most 16"),
    ("name: 使用帮助", "name: " + "帮" * 21, 5, "63 bytes, at most 60"),
    ("{type: click, name: 使用帮助, key: HELP}", "{type: view, name: 网站, url: www.x.cn}", 5,
     "must start with https://"),
    ("{type: click, name: 使用帮助, key: HELP}", "{type: view, name: 网站}", 5,
     "a view button needs a `url`"),
    ("{type: click, name: 使用帮助, key: HELP}", "{type: click, name: 帮助}", 5,
     "a click button needs a `key`"),
    ("key: HELP}", "key: HELP, url: https://x.cn}", 5, "a click button has no `url`"),
    ("{type: click, name: 使用帮助", "{type: scan, name: 使用帮助", 5, "type must be one of"),
    ("{type: click, name: 使用帮助", "{type: click, nmae: 使用帮助", 5, "field `nmae`"),
    ("{type: click, name: 使用帮助", "{type: click, name: ''", 5, "field `name` is required"),
    ("  sub_button:\n", "  key: X\n  sub_button:\n", 3, "a button with sub-buttons has no `key`"),
    ("  sub_button:\n  - {type: click, name: 退出标准, key: MENU_EXIT}\n" + SUB,
     "  sub_button: []\n", 3, "1 to 5 sub-buttons, not 0"),
    (SUB, SUB * 5, 3, "1 to 5 sub-buttons, not 6"),
    (TOP, TOP * 3, 1, "1 to 3 top-level buttons, not 4"),
    (SUB, "  - 使用帮助\n", 5, "a sub-button is a map"),
    ("- {type: click, name: 留言", "- {nam: 留言", 6, "field `nam`"),
    ("button:\n", "buttons: []\nbutton:\n", 1, "unknown menu key `buttons`"),
])
def test_menu_mistakes(tmp_path, old, new, line, message):
    assert old in MENU
    assert at(problems(tmp_path, MENU.replace(old, new, 1)), message) == [("menu.yaml", line)]


def test_menu_file_shape(tmp_path):
    assert at(problems(tmp_path, "- name: x\n"), "a `button:` list") == [("menu.yaml", 1)]
    assert at(problems(tmp_path, "button: [\n"), "not valid YAML") == [("menu.yaml", 2)]
