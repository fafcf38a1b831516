"""menu.yaml: the custom menu, checked against WeChat's limits before anyone pushes it.

Limits (https://developers.weixin.qq.com/doc/offiaccount/Custom_Menus/Creating_Custom-Defined_Menu.html):
1 to 3 top-level buttons, up to 5 sub-buttons each; a top-level name at most 16 bytes (4 Chinese
characters), a sub-button name at most 60 bytes; a `click` button needs a `key` of at most 128
bytes, a `view` button an http(s) `url`. Here a click key must also be answered: by an item's
`menu_key`, or by code for one of RESERVED_MENU_KEYS.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from content.located import LIST, TEXT, Mapping, Sequence, Sink, check_fields, plain, read_yaml

MENU_FILE = "menu.yaml"
MENU_KEY = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Click keys that code answers (not an item): the help text, the message intake, "my cases".
RESERVED_MENU_KEYS = frozenset({"HELP", "LEAVE_MESSAGE", "MY_CASES"})

MAX_TOP, MAX_SUB = 3, 5
TOP_NAME_BYTES, SUB_NAME_BYTES, KEY_BYTES = 16, 60, 128
BUTTON_FIELDS = {"name": TEXT, "type": TEXT, "key": TEXT, "url": TEXT, "sub_button": LIST}
TYPES = ("click", "view")


def read_menu(path: Path, sink: Sink, answered: set[str]) -> dict:
    """The menu as WeChat's JSON ({"button": [...]}); {} when there is no menu file."""
    if not path.exists():
        return {}
    root = read_yaml(path, sink)
    if root is None:
        return {}
    if not isinstance(root, Mapping) or not isinstance(root.get("button"), Sequence):
        sink.add(getattr(root, "line", 1), "the menu is a mapping with a `button:` list")
        return {}
    for key in root:
        if key != "button":
            sink.add(root.line_of(key), f"unknown menu key `{key}` (only `button:`)")
    buttons: Sequence = root["button"]
    if not 1 <= len(buttons) <= MAX_TOP:
        sink.add(root.line_of("button"), f"a menu has 1 to {MAX_TOP} top-level buttons, "
                                         f"not {len(buttons)}")
    keys: dict[str, int] = {}
    for button, line in zip(buttons, buttons.item_lines, strict=True):
        _check_top(button, line, sink, keys)
    for key, line in keys.items():
        if key not in answered and key not in RESERVED_MENU_KEYS:
            sink.add(line, f"click key {key!r} is answered by no item's menu_key and is not "
                           f"reserved ({', '.join(sorted(RESERVED_MENU_KEYS))})")
    return plain(root)


def _check_top(button: Any, line: int, sink: Sink, keys: dict[str, int]) -> None:
    if not isinstance(button, Mapping):
        sink.add(line, "a button is a mapping: {name: ..., type: ..., key: ...}")
        return
    check_fields(button, BUTTON_FIELDS, ("name",), "button", sink)
    _check_name(button, TOP_NAME_BYTES, "top-level", sink)
    subs = button.get("sub_button")
    if subs is None:
        _check_action(button, sink, keys)
        return
    if not isinstance(subs, Sequence):
        return
    if not 1 <= len(subs) <= MAX_SUB:
        sink.add(button.line_of("sub_button"),
                 f"a top-level button has 1 to {MAX_SUB} sub-buttons, not {len(subs)}")
    for name in ("type", "key", "url"):
        if name in button:
            sink.add(button.line_of(name), f"a button with sub-buttons has no `{name}`")
    for sub, sub_line in zip(subs, subs.item_lines, strict=True):
        if not isinstance(sub, Mapping):
            sink.add(sub_line, "a sub-button is a mapping: {name: ..., type: ..., key: ...}")
            continue
        check_fields(sub, BUTTON_FIELDS, ("name",), "sub-button", sink)
        if "sub_button" in sub:
            sink.add(sub.line_of("sub_button"), "sub-buttons cannot have sub-buttons")
        _check_name(sub, SUB_NAME_BYTES, "sub-button", sink)
        _check_action(sub, sink, keys)


def _check_name(button: Mapping, limit: int, what: str, sink: Sink) -> None:
    name = button.get("name")
    if isinstance(name, str) and len(name.encode("utf-8")) > limit:
        sink.add(button.line_of("name"), f"{what} name {name!r} is "
                                         f"{len(name.encode('utf-8'))} bytes, at most {limit}")


def _check_action(button: Mapping, sink: Sink, keys: dict[str, int]) -> None:
    kind = button.get("type")
    if kind not in TYPES:
        sink.add(button.line_of("type"), f"button type must be one of {', '.join(TYPES)}")
        return
    needed, other = ("key", "url") if kind == "click" else ("url", "key")
    if other in button:
        sink.add(button.line_of(other), f"a {kind} button has no `{other}`")
    value = button.get(needed)
    if not isinstance(value, str) or not value:
        sink.add(button.line_of("type"), f"a {kind} button needs a `{needed}`")
    elif kind == "view" and not value.startswith(("https://", "http://")):
        sink.add(button.line_of("url"), "a view button's url must start with https:// or http://")
    elif kind == "click":
        _check_key(value, button.line_of("key"), sink, keys)


def _check_key(key: str, line: int, sink: Sink, keys: dict[str, int]) -> None:
    if len(key.encode("utf-8")) > KEY_BYTES:
        sink.add(line, f"click key is {len(key.encode('utf-8'))} bytes, at most {KEY_BYTES}")
    elif not MENU_KEY.match(key):
        sink.add(line, f"click key {key!r}: A-Z, digits, underscores")
    elif key in keys:
        sink.add(line, f"click key {key!r} already used at line {keys[key]}")
    else:
        keys[key] = line


def click_keys(menu: dict) -> list[str]:
    """Every CLICK key of a menu in WeChat's JSON shape, in menu order."""
    return [button["key"] for top in menu.get("button", [])
            for button in (top.get("sub_button") or [top]) if button.get("type") == "click"]
