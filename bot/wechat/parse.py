"""Safe parsing of inbound XML into wechatpy message objects.

DTDs are refused outright (no XXE, no billion laughs), and with them any entity.
The class selection follows `wechatpy.parser.parse_message`, which cannot take a parsed dict.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from xml.etree import ElementTree

from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage

REQUIRED = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
# What may stand before the root once DTDs are refused: a UTF-8 byte order mark, whitespace,
# processing instructions (the XML declaration among them) and comments.
_PROLOG = re.compile(rb"(?:\xef\xbb\xbf)?(?:[ \t\r\n]+|<\?.*?\?>|<!--.*?-->)*", re.S)
MAX_DEPTH = 8  # WeChat nests four levels at most (CopyrightCheckResult/ResultList/item)
# The columns these go to (inbound_messages, subscribers) and a 64-bit CreateTime.
MAX_LENGTHS = {"FromUserName": 64, "MsgType": 32}
_TIMESTAMP = re.compile(r"[0-9]{1,18}")
MAX_KEY = 128


class BadMessage(ValueError):
    """The body is not a WeChat message we can read; the text says why (for the log)."""


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """The `<xml>` root of a WeChat body as a dict of strings (nested elements as dicts).

    Anything before the root but comments and processing instructions (a DOCTYPE, hence any
    entity declaration) is refused before the parser sees it; without a DTD an entity
    reference is a parse error, so neither XXE nor entity expansion can happen. The parser
    reads UTF-8 whatever the body declares (WeChat sends nothing else), so the bytes checked
    here are the text it parses. The C ElementTree parser does the rest."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        raise BadMessage("empty body")
    root_at = _PROLOG.match(body).end()
    if body.startswith(b"<!", root_at):
        raise BadMessage("DTD not allowed")
    if not body.startswith(b"<xml", root_at):
        raise BadMessage("root element is not <xml>")
    parser = ElementTree.XMLParser(encoding="utf-8")
    try:
        parser.feed(body)
        root = parser.close()
    except ElementTree.ParseError as exc:
        raise BadMessage(f"malformed XML: {exc}") from exc
    if root.tag != "xml" or len(root) == 0:
        raise BadMessage("root element is not <xml> with children")
    return _children(root, MAX_DEPTH)


def _children(element: ElementTree.Element, depth: int) -> dict[str, Any]:
    """Like xmltodict: leaf text stripped, nested elements as dicts, repeats as lists."""
    if depth == 0:
        raise BadMessage(f"elements nested deeper than {MAX_DEPTH} levels")
    result: dict[str, Any] = {}
    for child in element:
        value: Any = _children(child, depth - 1) if len(child) else (child.text or "").strip()
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
    too_long = [name for name, limit in MAX_LENGTHS.items() if len(fields[name]) > limit]
    if too_long:
        raise BadMessage(f"field(s) too long: {', '.join(too_long)}")
    if not _TIMESTAMP.fullmatch(fields["CreateTime"].strip()):
        raise BadMessage("CreateTime is not a number of seconds")
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
    (WeChat's rule is sender and time; with the key, two menu taps in one second stay two,
    and with a job report's MsgID, two broadcasts finishing in one second stay two)."""
    msg_id = fields.get("MsgId")
    if isinstance(msg_id, str) and msg_id.strip() and fields.get("MsgType") != "event":
        key = f"m:{msg_id.strip()}"
    else:
        event = fields.get("Event") if isinstance(fields.get("Event"), str) else ""
        event_key = fields.get("EventKey") if isinstance(fields.get("EventKey"), str) else ""
        if not event_key and isinstance(fields.get("MsgID"), str):  # a job's report: per job
            event_key = fields["MsgID"].strip()
        key = f"e:{fields['FromUserName']}:{fields['CreateTime'].strip()}:{event}:{event_key}"
    if len(key) > MAX_KEY:  # a VIEW event's key is a URL; a forged MsgId may be anything
        key = key[:87] + "#" + hashlib.sha1(key.encode()).hexdigest()
    return key
