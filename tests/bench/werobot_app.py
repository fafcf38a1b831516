"""The comparison bot: WeRoBot 1.13.1 answering the same keyword (`帮助`).

BENCH_WEROBOT_SESSION=1 keeps WeRoBot's default SQLite session storage on (its default
configuration); 0 turns sessions off (the bare bot)."""

from __future__ import annotations

import os

from werobot import WeRoBot
from werobot.session.sqlitestorage import SQLiteStorage

HELP = "您可以这样使用本公众号：\n· 帮助：列出可以问什么\n直接发文字提问也可以。"
session_on = os.environ.get("BENCH_WEROBOT_SESSION", "1") == "1"
robot = WeRoBot(token=os.environ["BENCH_TOKEN"], enable_session=session_on,
                session_storage=SQLiteStorage(os.environ["BENCH_SESSION_FILE"])
                if session_on else None)


@robot.filter("帮助")
def help_reply(message, session=None):
    return HELP


@robot.text
def other(message, session=None):
    return "抱歉，暂时没有找到与您的问题对应的内容。"


app = robot.wsgi
