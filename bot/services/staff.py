"""Staff accounts: creation, password checks with throttling, and the audit log.

Passwords are hashed with Argon2id (argon2-cffi's defaults, rehashed when they change).
Five failed logins in a row lock the account for LOCK_MINUTES; every login, failed login
and change is an AuditEntry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.db import utcnow
from bot.models.staff import ROLES, AuditEntry, StaffUser

MIN_PASSWORD = 10
MAX_FAILURES = 5
LOCK_MINUTES = 15
USERNAME = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")
_hasher = PasswordHasher()
# Checked against when the user does not exist, so both cases take as long.
_DUMMY_HASH = _hasher.hash("not a real password, only for timing")


class StaffError(ValueError):
    """A bad username, role or password; the message says which (in Chinese, for staff)."""


@dataclass(frozen=True)
class LoginResult:
    user: StaffUser | None
    reason: str = ""  # why not, for the login page (never says whether the user exists)


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError(f"密码至少{MIN_PASSWORD}位")
    if password.isdigit() or password.isalpha():
        raise StaffError("密码需同时包含字母和数字（或符号）")


def create_user(session: Session, username: str, password: str, role: str, *,
                display_name: str = "", department: str = "", actor: str = "system") -> StaffUser:
    username = username.strip()
    if not USERNAME.match(username):
        raise StaffError("用户名为2到64位字母、数字、汉字或 _ . -")
    if role not in ROLES:
        raise StaffError(f"角色必须是 {', '.join(ROLES)} 之一")
    if role == "handler" and not department.strip():
        raise StaffError("承办人需要所属部门")
    check_password_rules(password)
    if session.scalar(select(StaffUser).where(StaffUser.username == username)) is not None:
        raise StaffError(f"用户名 {username} 已存在")
    user = StaffUser(username=username, display_name=display_name.strip() or username,
                     role=role, department=department.strip(),
                     password_hash=_hasher.hash(password), active=True, failed_logins=0,
                     created_at=utcnow())
    session.add(user)
    session.flush()
    audit(session, actor, "user_add", username, {"role": role, "department": department})
    return user


def authenticate(session: Session, username: str, password: str, *, ip: str = "",
                 now: dt.datetime | None = None) -> LoginResult:
    """The user when the password is right and the account active and not locked."""
    now = now or utcnow()
    user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()))
    if user is None or not user.active:
        _verify(_DUMMY_HASH, password)
        audit(session, username[:64], "login_failed", username[:64], {"why": "unknown"}, ip)
        return LoginResult(None, "用户名或密码错误")
    if user.locked_until is not None and user.locked_until > now:
        audit(session, user.username, "login_locked", user.username, {}, ip)
        return LoginResult(None, f"登录失败次数过多，请 {LOCK_MINUTES} 分钟后再试")
    if not _verify(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + dt.timedelta(minutes=LOCK_MINUTES)
            user.failed_logins = 0
        audit(session, user.username, "login_failed", user.username, {"why": "password"}, ip)
        return LoginResult(None, "用户名或密码错误")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
    audit(session, user.username, "login", user.username, {}, ip)
    return LoginResult(user)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def audit(session: Session, actor: str, action: str, target: str,
          detail: Mapping | None = None, ip: str = "") -> AuditEntry:
    entry = AuditEntry(at=utcnow(), actor=actor, action=action, target=target[:255],
                       detail=dict(detail or {}), ip=ip[:64])
    session.add(entry)
    return entry
