"""Follow, unfollow, scans and menu taps."""

from __future__ import annotations

from bot.dispatch import HandlerGroup, Incoming, quick
from bot.services import push_template, pushes

group = HandlerGroup("events")

WELCOME = (
    "您好，欢迎关注{title}！\n"
    "这里可以查询扶贫政策法规、贫困村贫困户认定标准及申报程序、扶贫资金项目信息，"
    "以及省扶贫办政府信息公开年度报告中的数据；也可以留言咨询、投诉、提建议，"
    "我们件件有答复。\n回复“帮助”查看可以问什么。"
)


def _title(ctx) -> str:
    return ctx.account.title or "本公众号"


@group.event("subscribe", "subscribe_scan")
@quick
def welcome(msg: Incoming, ctx) -> str:
    """关注时的欢迎语"""
    return WELCOME.format(title=_title(ctx))


@group.event("scan")
@quick
def welcome_back(msg: Incoming, ctx) -> str:
    """已关注用户扫码"""
    return f"欢迎回来！{WELCOME.format(title=_title(ctx)).split(chr(10), 1)[1]}"


@group.event("unsubscribe")
@quick
def farewell(msg: Incoming, ctx) -> None:
    """取消关注：不能再发消息，只记录"""
    return None


@group.event("masssendjobfinish")
def broadcast_finished(msg: Incoming, ctx) -> None:
    """群发结果（微信通知）：记入推送历史"""
    fields = msg.fields
    counts = {"total": _count(fields.get("TotalCount")), "sent": _count(fields.get("SentCount")),
              "errors": _count(fields.get("ErrorCount"))}
    with ctx.transaction() as session:
        pushes.record_result(session, ctx.account.name, str(fields.get("MsgID", "")).strip(),
                             str(fields.get("Status", "")).strip(), counts)
    return None


def _count(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() else None


@group.event("templatesendjobfinish")
def template_finished(msg: Incoming, ctx) -> None:
    """模板消息结果（微信通知）：记入推送的送达情况"""
    fields = msg.fields
    with ctx.transaction() as session:
        push_template.record_result(session, str(fields.get("MsgID", "")).strip(),
                                    str(fields.get("Status", "")).strip())
    return None
