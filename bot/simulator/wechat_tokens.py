"""Access tokens of the fake WeChat API, checkable by any worker process.

A token is ``SIM1.<payload>.<mac>``: the payload (base64url) names the appid, the kind
(``token`` or ``stable``), the id of the recorded call that issued it and its expiry; the
MAC is HMAC-SHA256 under a key derived from the account's secret, so a changed secret
retires every token. As on WeChat, a newer ordinary token retires the previous one five
minutes after it was issued, and a forced stable refresh retires the previous stable token
at once; that check reads the recorded calls.
https://developers.weixin.qq.com/doc/offiaccount/Basic_Information/Get_access_token.html
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from bot.config import Account
from bot.db import utcnow
from bot.models import SimulatorCall

TOKEN_TTL = 7200
GRACE = 300  # seconds a replaced token keeps working; stable tokens renew this early
PATHS = {"token": "token", "stable": "stable_token"}
T = SimulatorCall.__table__


@dataclass(frozen=True)
class TokenInfo:
    account: Account
    kind: str
    seq: int
    expires: int


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _mac(account: Account, payload: str) -> str:
    key = hashlib.sha256(f"hotline-sim-token|{account.appid}|{account.secret}".encode())
    digest = hmac.new(key.digest(), f"SIM1.{payload}".encode(), "sha256").digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue_token(account: Account, seq: int = 0, kind: str = "token",
                now: float | None = None, ttl: int = TOKEN_TTL) -> str:
    """A token issued by recorded call `seq` (0: not recorded, for tests)."""
    expires = int((time.time() if now is None else now) + ttl)
    payload = _b64(f"{account.appid}|{kind}|{seq}|{expires}")
    return f"SIM1.{payload}.{_mac(account, payload)}"


def read_token(token: str, accounts: Iterable[Account]) -> TokenInfo | None:
    """The token's contents if its MAC is good, whatever its expiry."""
    try:
        prefix, payload, mac = token.split(".")
        fields = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
        appid, kind, seq, expires = fields.split("|")
        info = (kind, int(seq), int(expires))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    account = next((a for a in accounts if a.appid == appid), None)
    if prefix != "SIM1" or account is None or kind not in PATHS:
        return None
    if not hmac.compare_digest(_mac(account, payload).encode(), mac.encode()):
        return None
    return TokenInfo(account, *info)


def check_token(token: str, accounts: Iterable[Account],
                engine: Engine) -> tuple[Account | None, int]:
    """(account, 0) for a valid token; (None, 41001 | 40001 | 42001) otherwise."""
    if not token:
        return None, 41001
    info = read_token(token, accounts)
    if info is None:
        return None, 40001
    if info.expires <= time.time():
        return None, 42001
    if _superseded(info, token, engine):
        return None, 40001
    return info.account, 0


def _issued_after(info: TokenInfo, engine: Engine) -> list[Any]:
    query = select(T.c.created_at, T.c.body, T.c.response).where(
        T.c.id > info.seq, T.c.appid == info.account.appid, T.c.path == PATHS[info.kind],
        T.c.errcode == 0, T.c.status == 200).order_by(T.c.id)
    with engine.connect() as conn:
        return conn.execute(query).all()


def _superseded(info: TokenInfo, token: str, engine: Engine) -> bool:
    for row in _issued_after(info, engine):
        issued = _parsed(row.response).get("access_token")
        if not issued or issued == token:
            continue
        if info.kind == "token":
            return utcnow() - row.created_at > dt.timedelta(seconds=GRACE)
        if _parsed(row.body).get("force_refresh") is True:
            return True
    return False


def _parsed(text: str) -> dict:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def current_stable(account: Account, engine: Engine) -> tuple[str, int] | None:
    """The stable token still handed out (token, seconds left), unless within 5 minutes
    of expiry: then WeChat issues the next one."""
    query = select(T.c.response).where(
        T.c.appid == account.appid, T.c.path == "stable_token", T.c.errcode == 0,
        T.c.status == 200).order_by(T.c.id.desc()).limit(1)
    with engine.connect() as conn:
        response = conn.execute(query).scalar()
    token = _parsed(response or "").get("access_token", "")
    info = read_token(token, [account]) if token else None
    left = int(info.expires - time.time()) if info else 0
    return (token, left) if left > GRACE else None


def credentials_error(params: Mapping[str, Any],
                      accounts: Iterable[Account]) -> tuple[Account | None, int]:
    """The account named by appid/secret, or the errcode WeChat would answer."""
    if params.get("grant_type") != "client_credential":
        return None, 40002
    appid = params.get("appid")
    if not appid:
        return None, 41002
    account = next((a for a in accounts if a.appid == appid), None)
    if account is None:
        return None, 40013
    secret = params.get("secret")
    if not secret:
        return None, 41004
    if not hmac.compare_digest(str(secret).encode(), account.secret.encode()):
        return None, 40125
    return account, 0
