"""Help and non-text messages (free questions go to handlers/answers.py)."""

from __future__ import annotations

from bot.dispatch import HandlerGroup, Incoming, quick

group = HandlerGroup("fallback")


@group.keyword("帮助", "?", "？", "help", "菜单", "功能")
@group.menu("HELP")
@quick
def help_text(msg: Incoming, ctx) -> str:
    """帮助：列出可以问什么"""
    lines = [f"· {line}" for line in ctx.router.help_text()]
    return "您可以这样使用本公众号：\n" + "\n".join(lines) + "\n直接发文字提问也可以。"


@group.msg_type("image", "voice", "video", "shortvideo", "location", "link", "file")
@quick
def non_text(msg: Incoming, ctx) -> str:
    """非文字消息"""
    if msg.msg_type == "voice" and msg.text:
        return f"收到您的语音：“{msg.text}”。目前请用文字提问，我们能更准确地回答。"
    kind = {"image": "图片", "voice": "语音", "video": "视频", "shortvideo": "小视频",
            "location": "位置", "link": "链接", "file": "文件"}.get(msg.msg_type, "消息")
    return (f"已收到您的{kind}，谢谢！目前机器人只能读懂文字，"
            "请用文字描述您的问题；回复“帮助”查看可以问什么。")
