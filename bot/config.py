"""Settings from environment variables, with embedded defaults for a newcomer.

Nothing here imports Flask or opens a connection: `Settings.from_env()` only reads.
The default account comes from the ``WECHAT_*`` variables; further accounts come from the
TOML file named by ``HOTLINE_ACCOUNTS_FILE``.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

ACCOUNT_TYPES = ("subscription", "service")
DEFAULT_ACCOUNT = "default"
WECHAT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"

# Simulator credentials: used only when no real credentials are configured (simulator mode).
# They protect nothing; production mode refuses to start with them.
SIM_TOKEN = "hotline-simulator"
SIM_APPID = "wx0000000000simul"
SIM_SECRET = "simulator-secret"
SIM_AES_KEY = "c2ltdWxhdG9yLWFlcy1rZXktZm9yLWZ1cGluLWhvdGw"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable or file."""


@dataclass(frozen=True)
class Account:
    """One WeChat official account served by this deployment."""

    name: str
    token: str
    appid: str
    secret: str
    aes_key: str = ""
    previous_aes_key: str = ""
    type: str = "service"
    title: str = ""
    case_template: str = ""  # template id of "your message has an answer" (service accounts)
    push_template: str = ""  # template id of "newly disclosed" notices (service accounts)

    @property
    def webhook_path(self) -> str:
        return "/wechat" if self.name == DEFAULT_ACCOUNT else f"/wechat/{self.name}"

    @property
    def can_send_templates(self) -> bool:
        return self.type == "service"


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    accounts: tuple[Account, ...] = ()
    simulator: bool = True
    api_base: str = WECHAT_API_BASE
    public_url: str = "http://127.0.0.1:8000"
    reply_budget: float = 4.0
    timestamp_window: int = 300
    max_body_bytes: int = 64 * 1024
    api_timeout: float = 5.0
    instance_path: str = "instance"
    case_deadlines: Mapping[str, int] = field(default_factory=dict)  # working days per class
    trusted_proxies: tuple[str, ...] = ()  # X-Forwarded-* believed only from these
    push_lease: float = 120.0  # seconds a scheduler may hold a push it is sending
    scheduler_tick: float = 15.0  # seconds between the scheduler's looks at the outbox
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def default_account(self) -> Account:
        return self.accounts[0]

    def account(self, name: str) -> Account | None:
        for account in self.accounts:
            if account.name == name:
                return account
        return None

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        return _settings_from(env)


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _number(env: Mapping[str, str], name: str, default: float, kind: type = float) -> float:
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = kind(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ConfigError(f"{name} must be positive, got {raw!r}")
    return value


def _settings_from(env: Mapping[str, str]) -> Settings:
    mode = env.get("HOTLINE_ENV", "development").strip() or "development"
    if mode not in ("development", "production", "test"):
        raise ConfigError(f"HOTLINE_ENV must be development, production or test, got {mode!r}")
    instance = env.get("HOTLINE_INSTANCE_PATH", "instance")
    has_credentials = bool(env.get("WECHAT_TOKEN") and env.get("WECHAT_APPID"))
    simulator = _flag(env.get("HOTLINE_SIMULATOR"))
    if simulator is None:
        simulator = not has_credentials and mode != "production"
    if mode == "production":
        simulator = False
    public_url = env.get("HOTLINE_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    api_base = env.get("WECHAT_API_BASE") or (
        f"{public_url}/sim/api/" if simulator else WECHAT_API_BASE
    )
    if not api_base.endswith("/"):
        api_base += "/"
    accounts = [_default_account(env, has_credentials)]
    accounts_file = env.get("HOTLINE_ACCOUNTS_FILE", "")
    if accounts_file:
        accounts.extend(load_accounts_file(Path(accounts_file)))
    _check_unique(accounts)
    settings = Settings(
        env=mode,
        database_url=env.get("HOTLINE_DATABASE_URL") or f"sqlite:///{Path(instance).resolve()}/hotline.db",
        redis_url=env.get("HOTLINE_REDIS_URL", ""),
        secret_key=env.get("HOTLINE_SECRET_KEY", ""),
        accounts=tuple(accounts),
        simulator=simulator,
        api_base=api_base,
        public_url=public_url,
        reply_budget=_number(env, "HOTLINE_REPLY_BUDGET", 4.0),
        timestamp_window=int(_number(env, "HOTLINE_TIMESTAMP_WINDOW", 300, int)),
        max_body_bytes=int(_number(env, "HOTLINE_MAX_BODY_BYTES", 64 * 1024, int)),
        api_timeout=_number(env, "WECHAT_API_TIMEOUT", 5.0),
        instance_path=instance,
        case_deadlines=_deadlines(env.get("HOTLINE_CASE_DEADLINES", "")),
        push_lease=_number(env, "HOTLINE_PUSH_LEASE", 120.0),
        trusted_proxies=tuple(ip.strip() for ip in env.get("HOTLINE_PROXY_IPS", "").split(",")
                              if ip.strip()),
        scheduler_tick=_number(env, "HOTLINE_SCHEDULER_TICK", 15.0),
    )
    if mode == "production":
        check_production(settings)
    return settings


def _deadlines(text: str) -> dict[str, int]:
    """Per-class deadlines in working days: the defaults, with `咨询=3,投诉=10` overriding."""
    from bot.services.case_flow import CLASSES, DEFAULT_DEADLINES

    deadlines = dict(DEFAULT_DEADLINES)
    for entry in filter(None, (part.strip() for part in text.replace("，", ",").split(","))):
        name, _, days = entry.partition("=")
        name = name.strip()
        if name not in CLASSES:
            raise ConfigError(f"HOTLINE_CASE_DEADLINES: unknown class {name!r} "
                              f"(one of {', '.join(CLASSES)})")
        if not days.strip().isdigit() or not 1 <= int(days) <= 60:
            raise ConfigError(f"HOTLINE_CASE_DEADLINES: {name} needs 1 to 60 working days")
        deadlines[name] = int(days)
    return deadlines


def _default_account(env: Mapping[str, str], has_credentials: bool) -> Account:
    kind = env.get("HOTLINE_ACCOUNT_TYPE", "service").strip() or "service"
    if kind not in ACCOUNT_TYPES:
        raise ConfigError(f"HOTLINE_ACCOUNT_TYPE must be one of {ACCOUNT_TYPES}, got {kind!r}")
    if not has_credentials:
        return Account(DEFAULT_ACCOUNT, SIM_TOKEN, SIM_APPID, SIM_SECRET,
                       aes_key=env.get("WECHAT_AES_KEY", SIM_AES_KEY), type=kind,
                       title="模拟公众号")
    account = Account(
        name=DEFAULT_ACCOUNT,
        token=env["WECHAT_TOKEN"],
        appid=env["WECHAT_APPID"],
        secret=env.get("WECHAT_SECRET", ""),
        aes_key=env.get("WECHAT_AES_KEY", ""),
        previous_aes_key=env.get("WECHAT_PREVIOUS_AES_KEY", ""),
        type=kind,
        title=env.get("HOTLINE_ACCOUNT_TITLE", ""),
        case_template=env.get("WECHAT_CASE_TEMPLATE_ID", ""),
        push_template=env.get("WECHAT_PUSH_TEMPLATE_ID", ""),
    )
    _check_aes(account, "WECHAT_AES_KEY")
    return account


def load_accounts_file(path: Path) -> list[Account]:
    """Read further accounts: a TOML file with one ``[[account]]`` table per account."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"HOTLINE_ACCOUNTS_FILE: cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    accounts = []
    for index, entry in enumerate(data.get("account", []), start=1):
        where = f"{path}: account #{index}"
        missing = [key for key in ("name", "token", "appid") if not entry.get(key)]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        name = str(entry["name"])
        if not name.isidentifier() or name == DEFAULT_ACCOUNT:
            raise ConfigError(f"{where}: name {name!r} must be a plain word other than 'default'")
        kind = entry.get("type", "subscription")
        if kind not in ACCOUNT_TYPES:
            raise ConfigError(f"{where}: type must be one of {ACCOUNT_TYPES}, got {kind!r}")
        account = Account(
            name=name,
            token=str(entry["token"]),
            appid=str(entry["appid"]),
            secret=str(entry.get("secret", "")),
            aes_key=str(entry.get("aes_key", "")),
            previous_aes_key=str(entry.get("previous_aes_key", "")),
            type=kind,
            title=str(entry.get("title", "")),
            case_template=str(entry.get("case_template", "")),
            push_template=str(entry.get("push_template", "")),
        )
        _check_aes(account, where)
        accounts.append(account)
    return accounts


def _check_aes(account: Account, where: str) -> None:
    for key in (account.aes_key, account.previous_aes_key):
        if key and len(key) != 43:
            raise ConfigError(f"{where}: an EncodingAESKey has 43 characters, got {len(key)}")


def _check_unique(accounts: list[Account]) -> None:
    seen: set[str] = set()
    for account in accounts:
        if account.name in seen:
            raise ConfigError(f"account name {account.name!r} is used twice")
        seen.add(account.name)


def check_production(settings: Settings) -> None:
    """Production refuses to run on missing secrets or simulator credentials."""
    problems = []
    if not settings.secret_key or len(settings.secret_key) < 16:
        problems.append("HOTLINE_SECRET_KEY (at least 16 characters)")
    if settings.database_url.startswith("sqlite"):
        problems.append("HOTLINE_DATABASE_URL (PostgreSQL in production)")
    for account in settings.accounts:
        if account.token == SIM_TOKEN or not account.secret:
            problems.append(f"credentials of account {account.name!r} (WECHAT_TOKEN/APPID/SECRET)")
    if problems:
        raise ConfigError("production mode needs: " + "; ".join(problems))


def development_secret_key(instance_path: str) -> str:
    """Outside production, a missing HOTLINE_SECRET_KEY is replaced by a random key kept in
    the instance folder (so personal data sealed today can be read tomorrow)."""
    path = Path(instance_path) / "secret_key"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(key)
        return key
