"""Render a handler's reply as WeChat passive-reply XML, within WeChat's limits.

https://developers.weixin.qq.com/doc/offiaccount/Message_Management/Passive_user_reply_message.html
A passive text reply carries at most 2048 bytes; a news reply one article (since 2018-10).
"""

from __future__ import annotations

from wechatpy.replies import ArticlesReply

from bot.dispatch import Article, Reply

TEXT_LIMIT_BYTES = 2048
ELLIPSIS = "……"
_BREAKS = ("\n", "。", "！", "？", "；", "，", " ")


def cut_text(text: str, limit: int = TEXT_LIMIT_BYTES, tail: str = "") -> str:
    """`text` cut to `limit` UTF-8 bytes at the last clean break, with `tail` appended.

    A cut text ends with an ellipsis (and `tail`, e.g. a link to the rest)."""
    if len(text.encode("utf-8")) + len(tail.encode("utf-8")) <= limit:
        return text + tail
    budget = limit - len((ELLIPSIS + tail).encode("utf-8"))
    head = text.encode("utf-8")[:max(budget, 0)].decode("utf-8", "ignore")
    cut = max(head.rfind(mark) for mark in _BREAKS)
    if cut >= len(head) // 2:
        head = head[: cut + 1]
    return head.rstrip() + ELLIPSIS + tail


def render(reply: Reply, *, to_user: str, from_user: str, create_time: int) -> tuple[str, str]:
    """(kind, xml) for `reply`; kind is "text", "news" or "" (nothing: answer `success`)."""
    if reply is None or reply == "":
        return "", ""
    if isinstance(reply, Article):
        xml = ArticlesReply(source=from_user, target=to_user, time=create_time, articles=[{
            "title": reply.title, "description": reply.description,
            "image": reply.image, "url": reply.url,
        }]).render()
        return "news", xml
    if not isinstance(reply, str):
        raise TypeError(f"a handler returned {type(reply).__name__}, not text or an Article")
    return "text", (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName><CreateTime>{create_time}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{cdata(cut_text(reply))}</Content>"
        "</xml>")


def cdata(text: str) -> str:
    """CDATA that survives any text, "]]>" included (wechatpy's renderer does not split it)."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def plain_text(reply: Reply) -> str:
    """A one-line summary of the reply for the message log."""
    if isinstance(reply, Article):
        return f"[图文] {reply.title} {reply.url}".strip()
    return "" if reply is None else str(reply)
