from __future__ import annotations

from bot.dispatch import Article
from bot.wechat.parse import parse_xml
from bot.wechat.replies import TEXT_LIMIT_BYTES, cut_text, render


def test_short_text_untouched():
    assert cut_text("你好") == "你好"


def test_long_text_cut_cleanly_within_limit():
    text = "。".join([f"扶贫政策第{i}条内容说明" for i in range(400)])
    cut = cut_text(text)
    assert len(cut.encode("utf-8")) <= TEXT_LIMIT_BYTES
    assert cut.endswith("……")
    assert cut[:-2].endswith("。")


def test_cut_with_tail_keeps_tail():
    cut = cut_text("字" * 3000, tail="\n全文：http://x/p/a")
    assert cut.endswith("全文：http://x/p/a") and len(cut.encode()) <= TEXT_LIMIT_BYTES


def test_render_kinds():
    kind, xml = render("好", to_user="o", from_user="gh", create_time=1)
    assert kind == "text" and parse_xml(xml)["Content"] == "好"
    kind, xml = render(Article("题", "述", "http://u", "http://i"), to_user="o", from_user="gh",
                       create_time=1)
    fields = parse_xml(xml)
    assert kind == "news" and fields["ArticleCount"] == "1"
    assert render(None, to_user="o", from_user="gh", create_time=1) == ("", "")


def test_text_with_cdata_end_survives():
    _kind, xml = render("a]]>b<c>&d", to_user="o]]>", from_user="gh", create_time=1)
    fields = parse_xml(xml)
    assert fields["Content"] == "a]]>b<c>&d" and fields["ToUserName"] == "o]]>"
