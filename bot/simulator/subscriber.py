"""The simulated subscriber's phone page (/sim/) and its backend.

`POST /sim/send` turns the page's JSON into a real signed (optionally encrypted) HTTP request
to this server's own webhook through SubscriberClient, so the page exercises exactly what
WeChat would. `GET /sim/menu` is the menu last created through the fake API (or a default).
Pushes are not here: the page polls the fake API's record (`GET /sim/api/_calls`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import requests
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from bot.config import Account
from bot.simulator import wechat_rules
from bot.simulator.client import SubscriberClient

blueprint = Blueprint("sim", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")
DEFAULT_MENU = {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
MAX_TEXT = 2048
MAX_OPENID = 64
MAX_KEY = 1024  # a VIEW button's url may be long
EVENTS = {name.lower(): name for name in ("subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN")}


class BadInput(ValueError):
    """The page (or whoever posts) sent something /sim/send cannot use; the text says what."""


@dataclass(frozen=True)
class Outgoing:
    account: Account
    openid: str
    aes: bool
    kind: str
    text: str = ""
    event: str = ""
    key: str = ""
    menu_id: str = ""  # a tapped dialog-menu link's msgmenuid


def _runtime():
    return current_app.extensions["hotline"]


def _error(message: str, status: int = 400) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


@blueprint.get("/")
def page() -> str:
    settings = _runtime().settings
    accounts = [{"name": a.name, "title": a.title or a.name, "appid": a.appid,
                 "aes": bool(a.aes_key)} for a in settings.accounts]
    return render_template("sim/phone.html", accounts=accounts)


@blueprint.get("/menu")
def menu() -> Response:
    """The account's current menu as WeChat's menu JSON ({"button": [...]})."""
    account = _runtime().settings.account(request.args.get("account", "default"))
    if account is None:
        return _error("unknown account")
    found = wechat_rules.current_menu(_runtime(), account.appid)
    return jsonify(found if isinstance(found, dict) and found.get("button") else DEFAULT_MENU)


@blueprint.post("/send")
def send() -> Response:
    """JSON {account, openid, aes, kind: text|event, text, menuid, event, key} -> the decoded reply,
    with the request XML and the raw answer."""
    try:
        outgoing = _outgoing(request.get_json(silent=True))
        client = SubscriberClient(request.host_url, outgoing.account, outgoing.openid,
                                  aes=outgoing.aes)
    except ValueError as exc:  # BadInput, or safe mode without a key
        return _error(str(exc))
    try:
        if outgoing.kind == "text":
            reply = client.say(outgoing.text, outgoing.menu_id)
        else:
            reply = client.event(outgoing.event, outgoing.key)
    except requests.RequestException as exc:
        return _error(f"webhook unreachable at {client.url}: {exc}", 502)
    return jsonify(asdict(reply))


def _string(data: dict, name: str, default: str = "") -> str:
    value = data.get(name, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a string")
    return value


def _outgoing(data: object) -> Outgoing:
    if not isinstance(data, dict):
        raise BadInput("JSON object expected")
    account = _runtime().settings.account(_string(data, "account", "default"))
    if account is None:
        raise BadInput("unknown account")
    openid = _string(data, "openid").strip()
    if not openid or len(openid) > MAX_OPENID:
        raise BadInput(f"openid missing or over {MAX_OPENID} characters")
    kind = _string(data, "kind", "text")
    if kind == "text":
        text = _string(data, "text")
        if not text.strip():
            raise BadInput("text missing")
        if len(text) > MAX_TEXT:
            raise BadInput(f"text over {MAX_TEXT} characters")
        menu_id = _string(data, "menuid").strip()
        if menu_id and not (menu_id.isdigit() and len(menu_id) <= 9):
            raise BadInput("menuid must be a number")
        return Outgoing(account, openid, bool(data.get("aes")), "text", text=text,
                        menu_id=menu_id)
    if kind != "event":
        raise BadInput("kind must be text or event")
    event = EVENTS.get(_string(data, "event").lower())
    if event is None:
        raise BadInput(f"event must be one of {', '.join(EVENTS.values())}")
    key = _string(data, "key")
    if len(key) > MAX_KEY:
        raise BadInput(f"key over {MAX_KEY} characters")
    return Outgoing(account, openid, bool(data.get("aes")), "event", event=event, key=key)
