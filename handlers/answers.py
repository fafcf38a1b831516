"""Answers from the knowledge base: free questions, menu taps, and picking a numbered choice.

Everything here answers from this process's search index (bot/knowledge.py), so every
handler is @quick. A clear winner is answered with its source and page link; a close call
offers up to three numbered choices (also tappable links) and remembers them for
CHOICE_TTL; nothing good, or a figure asked for a year the content does not have, is said
plainly, with the ways on (the menu, 帮助, 留言).
"""

from __future__ import annotations

import datetime as dt
import html
import re

from bot.dispatch import Article, HandlerGroup, Incoming, NotHandled, quick
from bot.wechat.replies import TEXT_LIMIT_BYTES, cut_text
from content.model import Fact, Item
from content.search import SearchResult

group = HandlerGroup("answers")

CHOICE_TTL = dt.timedelta(minutes=10)
MAX_CHOICES = 3
_PICK = re.compile(r"^(?:第)?([1-9一二三])(?:个|条|项)?$")
_CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3}
NONE_TEXT = ("抱歉，暂时没有找到与您的问题对应的公开内容。\n"
             "您可以：\n· 换个说法再问，例如“贫困户认定标准”\n· 点底部菜单查看各栏目\n"
             "· 回复“帮助”查看可以问什么\n· 回复“留言”把问题留给工作人员，我们会按期答复")
NO_CHOICE_TEXT = ("您回复的数字没有对应的选项（选项10分钟内有效）。\n"
                  "请直接发文字提问，或回复“帮助”查看可以问什么。")


@group.intercept
@quick
def pick_choice(msg: Incoming, ctx):
    """回复数字：从上次给出的选项里选一个"""
    dialog = ctx.dialog
    if dialog is None or dialog.kind != "choose":
        return NotHandled
    number = _picked(msg)
    if number is None:
        return NotHandled
    options = dialog.data.get("options", [])
    if not 1 <= number <= len(options):
        return f"请回复 1 到 {len(options)} 之间的数字，或直接重新提问。"
    found = ctx.knowledge.lookup(options[number - 1])
    ctx.end_dialog()
    if found is None:
        return "这条内容刚刚更新过，请重新提问。"
    item, fact = found
    return answer_reply(item, fact, ctx)


def _picked(msg: Incoming) -> int | None:
    menu_id = msg.fields.get("bizmsgmenuid")
    if isinstance(menu_id, str) and re.fullmatch(r"[0-9]{1,9}", menu_id.strip()):
        return int(menu_id.strip())
    found = _PICK.match(msg.normalized)
    if found is None:
        return None
    value = found.group(1)
    return _CHINESE_DIGITS.get(value) or int(value)


@group.event("click")
@quick
def menu_item(msg: Incoming, ctx):
    """菜单按钮：回答对应的栏目"""
    item = ctx.knowledge.by_menu_key(msg.event_key)
    if item is None:
        return "这个菜单项正在完善中。您可以直接发文字提问，或回复“帮助”查看可以问什么。"
    return answer_reply(item, None, ctx)


@group.fallback
@quick
def search(msg: Incoming, ctx):
    """直接提问：在政策、认定标准、资金项目和年度报告里查找"""
    if _picked(msg) is not None:
        return NO_CHOICE_TEXT  # a number with no choices pending (or past CHOICE_TTL)
    result = ctx.knowledge.index().search(msg.text)
    if ctx.dialog is not None and ctx.dialog.kind == "choose":
        ctx.end_dialog()  # a new question replaces the choices offered before
    ctx.outcome = result.confidence  # the dashboard counts the questions found "none"
    if result.confidence == "answer":
        item, fact = ctx.knowledge.lookup(result.hits[0].doc_id)
        return answer_reply(item, fact, ctx)
    if result.confidence == "choose":
        options = [hit.doc_id for hit in result.hits[:MAX_CHOICES]]
        ctx.start_dialog("choose", {"options": options, "question": msg.text[:200]},
                         CHOICE_TTL)
        return choices_reply(result)
    return none_reply(result)


def page_url(ctx, slug: str) -> str:
    return f"{ctx.runtime.settings.public_url}/p/{slug}"


def answer_reply(item: Item, fact: Fact | None, ctx):
    """One item (or one of its facts) as a reply: text with its source and page link, or a
    news article when the item has a picture."""
    url = page_url(ctx, item.slug)
    if fact is None and item.image:
        return Article(item.title, description=item.summary, url=url, image=item.image)
    if fact is not None:
        section = f"·{fact.section}" if fact.section else ""
        body = f"{fact.label}：{fact.value}\n“{fact.sentence}”\n（来源：{item.source}{section}）"
    else:
        lead = item.summary or item.body
        body = f"【{item.title}】\n{lead}\n（来源：{item.source}）"
    return cut_text(body, TEXT_LIMIT_BYTES, f"\n详情：{url}")


def choices_reply(result: SearchResult) -> str:
    """Up to three numbered choices; each is also a link that sends its title when tapped."""
    lines = ["您想了解的是哪一项？"]
    for number, hit in enumerate(result.hits[:MAX_CHOICES], start=1):
        lines.append(f"{number}. {menu_link(hit.title, number)}")
    lines.append("回复数字（如“1”）或点选查看；也可以换个说法重新提问。")
    return "\n".join(lines)


def menu_link(text: str, menu_id: int) -> str:
    """A link that makes the subscriber's client send `text` (WeChat's dialog menu)."""
    content = re.sub(r'[&"<>]', " ", text)  # as WeChat writes them: the query unencoded
    return (f'<a href="weixin://bizmsgmenu?msgmenucontent={content}&msgmenuid={menu_id}">'
            f"{html.escape(text, quote=False)}</a>")


def none_reply(result: SearchResult) -> str:
    if result.reason == "year":
        asked = "、".join(f"{year}年" for year in sorted(result.years))
        have = sorted({hit.title for hit in result.hits})[:2]
        known = f"目前公开的是其他年份的数据（如：{'；'.join(have)}）。" if have else ""
        return (f"抱歉，{asked}的这项数据还没有在本公众号公开。{known}\n"
                "如需这一数据，可以回复“留言”或“申请公开”，我们会按期答复。")
    return NONE_TEXT
