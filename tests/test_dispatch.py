from __future__ import annotations

import pytest

from bot.dispatch import (
    Article,
    ConfigurationError,
    HandlerGroup,
    Incoming,
    NotHandled,
    Router,
    normalize,
)
from bot.runtime import build_router


def text(content: str) -> Incoming:
    return Incoming("default", "o1", "text", content, normalize(content))


def event(name: str, key: str = "") -> Incoming:
    return Incoming("default", "o1", "event", event=name, event_key=key)


def labelled(label):
    def handler(msg, ctx, **kwargs):
        return label if not kwargs else f"{label}:{kwargs}"

    handler.__doc__ = f"{label} help"
    return handler


@pytest.mark.parametrize("raw,expected", [
    ("  帮助 ", "帮助"), ("ＨＥＬＰ！", "help"), ("帮助？", "帮助"), ("?", "?"), ("？", "?"),
    ("a   b", "a b"), ("", ""), ("《政策》", "政策"),
])
def test_normalize(raw, expected):
    assert normalize(raw) == expected


def test_documented_order_keyword_regex_contains_type_fallback():
    first, second = HandlerGroup("first"), HandlerGroup("second")
    first.contains("政策")(labelled("contains"))
    second.keyword("政策")(labelled("keyword"))
    second.regex(r"^查询\s*(?P<number>\d+)$")(labelled("regex"))
    second.msg_type("image")(labelled("image"))
    second.fallback(labelled("fallback"))
    router = Router([first, second])
    assert router.dispatch(text("政策"), None) == ("keyword", "second:keyword")
    assert router.dispatch(text("扶贫政策"), None) == ("contains", "first:contains")
    assert router.dispatch(text("查询 123"), None)[0] == "regex:{'number': '123'}"
    assert router.dispatch(text("别的"), None) == ("fallback", "fallback")
    image = Incoming("default", "o1", "image")
    assert router.dispatch(image, None) == ("image", "second:msg_type")
    unknown = Incoming("default", "o1", "notsure")
    assert router.dispatch(unknown, None) == (None, "none")


def test_events_and_menu_keys():
    group = HandlerGroup("events")
    group.event("subscribe")(labelled("welcome"))
    group.menu("POLICY")(labelled("menu"))
    group.event("click")(labelled("any click"))
    router = Router([group])
    assert router.dispatch(event("subscribe"), None)[0] == "welcome"
    assert router.dispatch(event("click", "POLICY"), None)[0] == "menu"
    assert router.dispatch(event("click", "OTHER"), None)[0] == "any click"
    assert router.dispatch(event("view", "http://x"), None) == (None, "none")


def test_intercept_sees_text_first_and_can_decline():
    group = HandlerGroup("dialog")
    seen = []

    @group.intercept
    def dialog(msg, ctx):
        seen.append(msg.normalized)
        return "in dialog" if msg.normalized == "1" else NotHandled

    group.keyword("帮助")(labelled("help"))
    router = Router([group])
    assert router.dispatch(text("1"), None)[0] == "in dialog"
    assert router.dispatch(text("帮助"), None)[0] == "help"
    assert seen == ["1", "帮助"]


def test_conflicting_keywords_fail_at_start_up():
    a, b = HandlerGroup("a"), HandlerGroup("b")
    a.keyword("留言")(labelled("a"))
    b.keyword("留言！")(labelled("b"))
    with pytest.raises(ConfigurationError, match="留言"):
        Router([a, b])
    c, d = HandlerGroup("c"), HandlerGroup("d")
    c.menu("K")(labelled("c"))
    d.menu("K")(labelled("d"))
    with pytest.raises(ConfigurationError):
        Router([c, d])


def test_keyword_does_not_match_longer_text_or_other_types():
    group = HandlerGroup("g")
    group.keyword("帮助")(labelled("help"))
    router = Router([group])
    assert router.dispatch(text("帮助我"), None) == (None, "none")
    assert router.dispatch(Incoming("default", "o1", "image", "帮助", "帮助"), None)[0] is None


def test_real_router_builds_and_has_help():
    router = build_router()
    assert "帮助：列出可以问什么" in router.help_text()
    assert "keyword" in router.describe()


def test_article_is_a_reply():
    group = HandlerGroup("g")
    group.keyword("图")(lambda msg, ctx: Article("标题", url="http://x/p/a"))
    assert Router([group]).dispatch(text("图"), None)[0].title == "标题"
