"""Outbound WeChat API of one account (interface; the full client is being written)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.config import Account, Settings
from bot.dispatch import Reply


@dataclass(frozen=True)
class SendResult:
    ok: bool
    errcode: int = 0
    error: str = ""
    outbound_id: int | None = None


class WeChatAPI:
    def __init__(self, settings: Settings, account: Account, engine: Engine) -> None:
        self.settings = settings
        self.account = account
        self.engine = engine

    def send_reply(self, openid: str, reply: Reply, inbound_id: int | None = None) -> SendResult:
        raise NotImplementedError
