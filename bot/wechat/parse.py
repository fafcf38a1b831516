"""Safe parsing of inbound XML into wechatpy message objects.

DTDs are refused outright (no XXE, no billion laughs), and with them any entity.
The class selection follows `wechatpy.parser.parse_message`, which cannot take a parsed dict.
"""

from __future__ import annotations

import hashlib
from typing import Any
from xml.etree import ElementTree

from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")


class BadMessage(ValueError):
    """The body is not a WeChat message we can read; the text says why (for the log)."""


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The `<xml>` root of a WeChat body as a dict of strings (nested elements as dicts).

    Markup before the root (a DOCTYPE, hence any entity declaration) is refused before the
    parser sees it; without a DTD an entity reference is a parse error, so neither XXE nor
    entity expansion can happen. The C ElementTree parser does the rest."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        raise BadMessage("empty body")
    start = body.find(b"<xml")
    if start < 0:
        raise BadMessage("root element is not <xml>")
    if b"<!" in body[:start]:
        raise BadMessage("DTD not allowed")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise BadMessage(f"malformed XML: {exc}") from exc
    if root.tag != "xml" or len(root) == 0:
        raise BadMessage("root element is not <xml> with children")
    return _children(root)


def _children(element: ElementTree.Element) -> dict[str, Any]:
    """Like xmltodict: leaf text stripped, nested elements as dicts, repeats as lists."""
    result: dict[str, Any] = {}
    for child in element:
        value: Any = _children(child) if len(child) else (child.text or "").strip()
        if child.tag in result:
            previous = result[child.tag]
            result[child.tag] = [*previous, value] if isinstance(previous, list) \
                else [previous, value]
        else:
            result[child.tag] = value
    return result


def to_message(fields: dict[str, Any]) -> BaseMessage:
    """Pick the wechatpy message or event class for `fields` and build it."""
    missing = [name for name in REQUIRED
               if not isinstance(fields.get(name), str) or not fields[name]]
    if missing:
        raise BadMessage(f"missing or nested field(s): {', '.join(missing)}")
    if not fields["CreateTime"].strip().isdigit():
        raise BadMessage("CreateTime is not a number")
    message_type = fields["MsgType"].lower()
    if message_type != "event":
        return _build(MESSAGE_TYPES.get(message_type, UnknownMessage), fields)
    event = fields.get("Event")
    event_type = event.lower() if isinstance(event, str) else ""
    event_key = fields.get("EventKey")
    if event_type == "subscribe" and isinstance(event_key, str) and event_key:
        if event_key.startswith(("scanbarcode|", "scanimage|")):
            event_type = "subscribe_scan_product"
            fields = {**fields, "Event": event_type}
        elif event_key.startswith("qrscene_"):
            event_type = "subscribe_scan"
            fields = {**fields, "Event": event_type, "EventKey": event_key[len("qrscene_"):]}
    return _build(EVENT_TYPES.get(event_type, UnknownMessage), fields)


def _build(cls: type[BaseMessage], fields: dict[str, Any]) -> BaseMessage:
    try:
        return cls(fields)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BadMessage(f"fields do not fit {cls.__name__}: {exc}") from exc


def message_key(fields: dict[str, Any]) -> str:
    """The retry key: MsgId for messages; sender, time, event and event key for events
    (WeChat's rule is sender and time; with the key, two menu taps in one second stay two)."""
    msg_id = fields.get("MsgId")
    if isinstance(msg_id, str) and msg_id.strip() and fields.get("MsgType") != "event":
        return f"m:{msg_id.strip()}"
    event = fields.get("Event") if isinstance(fields.get("Event"), str) else ""
    event_key = fields.get("EventKey") if isinstance(fields.get("EventKey"), str) else ""
    key = f"e:{fields['FromUserName']}:{fields['CreateTime'].strip()}:{event}:{event_key}"
    if len(key) > 128:  # a VIEW event's key is a URL
        key = key[:87] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key
