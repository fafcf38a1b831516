"""The simulated subscriber's phone page (/sim/) and its backend, which sends every message
as real signed (optionally encrypted) HTTP to the webhook through SubscriberClient."""

from __future__ import annotations

from dataclasses import asdict

import requests
from flask import Blueprint, Response, current_app, jsonify, render_template, request

from bot.simulator import wechat_rules
from bot.simulator.client import SubscriberClient

blueprint = Blueprint("sim", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")
DEFAULT_MENU = {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
MAX_TEXT = 2048
EVENTS = ("subscribe", "unsubscribe", "CLICK", "VIEW", "SCAN")


def _runtime():
    return current_app.extensions["hotline"]


def _error(message: str, status: int = 400) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


@blueprint.get("/")
def page() -> str:
    settings = _runtime().settings
    accounts = [{"name": a.name, "title": a.title or a.name, "aes": bool(a.aes_key)}
                for a in settings.accounts]
    return render_template("sim/phone.html", accounts=accounts)


@blueprint.get("/menu")
def menu() -> Response:
    account = _runtime().settings.account(request.args.get("account", "default"))
    if account is None:
        return _error("unknown account")
    found = wechat_rules.current_menu(_runtime(), account.appid)
    return jsonify(found or DEFAULT_MENU)


@blueprint.post("/send")
def send() -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return _error("JSON object expected")
    account = _runtime().settings.account(str(data.get("account", "default")))
    openid = str(data.get("openid", "")).strip()
    if account is None:
        return _error("unknown account")
    if not openid or len(openid) > 64:
        return _error("openid missing or too long")
    kind, text = data.get("kind", "text"), str(data.get("text", ""))
    if kind == "text" and not text.strip():
        return _error("text missing")
    if len(text) > MAX_TEXT:
        return _error(f"text over {MAX_TEXT} characters")
    if kind == "event" and data.get("event") not in EVENTS:
        return _error(f"event must be one of {', '.join(EVENTS)}")
    try:
        client = SubscriberClient(request.host_url, account, openid, aes=bool(data.get("aes")))
        reply = (client.say(text) if kind == "text"
                 else client.event(str(data["event"]), str(data.get("key", ""))))
    except ValueError as exc:
        return _error(str(exc))
    except requests.RequestException as exc:
        return _error(f"webhook unreachable: {exc}", 502)
    return jsonify(asdict(reply))
